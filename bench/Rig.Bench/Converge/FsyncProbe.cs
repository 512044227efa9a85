using System.Diagnostics;

namespace Rig.Bench.Converge;

/// <summary>How long a durable small-file write takes on a file system right now (write, fsync, rename: what an
/// agent does for every configuration file). Context for the figures: Rig fsyncs, the other tools do not.</summary>
internal static class FsyncProbe
{
    /// <summary>Median seconds of <paramref name="count"/> durable writes of a 1.3 KB file under <paramref name="directory"/>.</summary>
    public static double Measure(string directory, int count)
    {
        var probe = Path.Combine(directory, ".fsync-probe");
        Directory.CreateDirectory(probe);
        var content = new byte[1300];
        var times = new List<double>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var path = Path.Combine(probe, $"f{i % 10}");
                var watch = Stopwatch.StartNew();
                using (var stream = new FileStream(path + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    stream.Write(content);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(path + ".tmp", path, overwrite: true);
                times.Add(watch.Elapsed.TotalSeconds);
            }
        }
        finally
        {
            Directory.Delete(probe, recursive: true);
        }
        return Common.Stats.Median(times);
    }
}
