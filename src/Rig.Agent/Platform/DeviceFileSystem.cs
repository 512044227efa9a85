using Rig.Protocol;
using Rig.Protocol.Archives;

namespace Rig.Agent.Platform;

/// <summary>What to do when the last component of a path is a symbolic link.</summary>
internal enum FinalLink
{
    /// <summary>Refuse: configuration files are never written through a link (CHECKLIST 16).</summary>
    Refuse,
    /// <summary>Operate on the link itself (rename over it, delete it).</summary>
    Keep,
    /// <summary>Follow it (reading).</summary>
    Follow,
}

/// <summary>Maps device paths (<c>/etc/app.conf</c>) to host paths under a root (<c>/</c> on a real device, a
/// directory in the sandbox) and refuses anything that would escape it: <c>..</c>, symbolic links resolving
/// outside the root (links are followed with chroot semantics), paths outside the allowed roots.</summary>
internal sealed class DeviceFileSystem
{
    private const int MaxLinkHops = 40;
    private readonly IReadOnlyList<string> _allowedRoots;
    private readonly RigLimits _limits;

    /// <summary>A file system rooted at <paramref name="root"/>.</summary>
    public DeviceFileSystem(string root, IReadOnlyList<string> allowedRoots, RigLimits limits)
    {
        Root = Path.GetFullPath(root);
        _allowedRoots = allowedRoots;
        _limits = limits;
    }

    /// <summary>Host path of the device root.</summary>
    public string Root { get; }

    /// <summary>Resolve a device path. Parent directories may be symbolic links that stay inside the root
    /// (e.g. merged /usr); what happens when the path itself is a link is <paramref name="final"/>'s choice.
    /// With <paramref name="allowedRootsOnly"/> the resolved path must be under an allowed root.</summary>
    public string Resolve(string devicePath, FinalLink final, bool allowedRootsOnly)
    {
        string[] segments;
        try
        {
            segments = ArchivePaths.SplitDevicePath(devicePath, _limits.MaxPathLength);
        }
        catch (ArgumentException e)
        {
            throw new CommandFailedException("bad-path", e.Message);
        }
        var resolved = new List<string>();
        var hops = 0;
        var queue = new Queue<string>(segments);
        while (queue.Count > 0)
        {
            var segment = queue.Dequeue();
            if (segment == "..")
            {
                if (resolved.Count > 0)
                    resolved.RemoveAt(resolved.Count - 1); // chroot semantics: '..' at the root stays at the root
                continue;
            }
            if (segment is "." or "")
                continue;
            resolved.Add(segment);
            var host = HostPath(resolved);
            var isFinal = queue.Count == 0;
            var info = new FileInfo(host);
            if (info.LinkTarget is not { } target || (isFinal && final == FinalLink.Keep))
                continue;
            if (isFinal && final == FinalLink.Refuse)
                throw new CommandFailedException("link-target", $"'{devicePath}' is a symbolic link (to '{target}'); Rig does not write through links. Remove the link or change the path in the model.");
            if (++hops > MaxLinkHops)
                throw new CommandFailedException("link-loop", $"Too many symbolic links while resolving '{devicePath}'.");
            resolved.RemoveAt(resolved.Count - 1);
            if (target.StartsWith('/'))
                resolved.Clear(); // absolute link targets are relative to the device root
            var rest = queue.ToArray();
            queue.Clear();
            foreach (var s in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest))
                queue.Enqueue(s);
        }
        var devicePathResolved = "/" + string.Join('/', resolved);
        if (allowedRootsOnly && !_allowedRoots.Any(r => devicePathResolved == r || devicePathResolved.StartsWith(r.TrimEnd('/') + "/", StringComparison.Ordinal)))
            throw new CommandFailedException("outside-allowed-roots", $"'{devicePath}' resolves to '{devicePathResolved}', outside the allowed roots ({string.Join(", ", _allowedRoots)}); change the path or the agent's allowedRoots.");
        return HostPath(resolved);
    }

    /// <summary>Host path for a device path without any checks other than staying under the root (for the
    /// agent's own bookkeeping, e.g. <c>/var/lib/rig</c>).</summary>
    public string Internal(string devicePath) => HostPath(ArchivePaths.SplitDevicePath(devicePath, _limits.MaxPathLength));

    private string HostPath(IEnumerable<string> segments)
    {
        var path = Path.Combine([Root, .. segments]);
        var full = Path.GetFullPath(path);
        if (full != Root && !full.StartsWith(Root.TrimEnd('/') + "/", StringComparison.Ordinal))
            throw new CommandFailedException("path-escape", $"'{path}' escapes the device root.");
        return full;
    }

    /// <summary>Write a file atomically: temp file in the same directory, flushed, mode set, renamed into place.</summary>
    public static void WriteAtomically(string hostPath, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        var directory = Path.GetDirectoryName(hostPath)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".rig-{Guid.NewGuid():n}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = mode;
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(temp, mode); // umask may have narrowed the create mode
            File.Move(temp, hostPath, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
