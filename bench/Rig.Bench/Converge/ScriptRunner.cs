using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Rig.Bench.Converge;

/// <summary>The floor: a bare script (C#, in this process, one thread) that writes the same files directly. It
/// renders each template by plain substitution, compares with what is on disk and writes only what differs (no
/// fsync, no temp file, no record of anything), and extracts each .tar.gz when its last file is missing. Nothing
/// checks, records or reports: it is the least work that produces the desired state.</summary>
internal sealed class ScriptRunner
{
    private readonly string _directory;
    private readonly ConvergeWorkload _workload;
    private readonly IReadOnlyDictionary<string, string> _tarballs;

    /// <summary>A script that works under <paramref name="directory"/>.</summary>
    public ScriptRunner(string directory, ConvergeWorkload workload, IReadOnlyDictionary<string, string> tarballs)
    {
        _directory = directory;
        _workload = workload;
        _tarballs = tarballs;
    }

    /// <summary>Where the targets are.</summary>
    public string Targets => Path.Combine(_directory, "targets");

    /// <summary>Target directory of a device.</summary>
    public string RootOf(string device) => Path.Combine(Targets, device);

    /// <summary>Empty every target.</summary>
    public void Reset()
    {
        if (Directory.Exists(Targets))
            Directory.Delete(Targets, recursive: true);
        Directory.CreateDirectory(Targets);
    }

    /// <summary>Timed: one pass over every device; returns seconds and files written.</summary>
    public (double Seconds, int Written) Run()
    {
        var watch = Stopwatch.StartNew();
        var written = 0;
        foreach (var device in _workload.Devices)
        {
            var root = RootOf(device.Name);
            var parameters = _workload.EffectiveParameters(device);
            foreach (var template in _workload.Templates)
            {
                var path = Path.Combine(root, template.RelativePath);
                var content = Encoding.UTF8.GetBytes(template.Render(device, parameters));
                if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(content))
                    continue;
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllBytes(path, content);
                written++;
            }
            foreach (var archive in _workload.Archives)
            {
                if (File.Exists(Path.Combine(root, archive.Marker)))
                    continue;
                Directory.CreateDirectory(root);
                using var file = File.OpenRead(_tarballs[archive.Name]);
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                TarFile.ExtractToDirectory(gzip, root, overwriteFiles: true);
                written += archive.Files.Count;
            }
        }
        watch.Stop();
        return (watch.Elapsed.TotalSeconds, written);
    }
}
