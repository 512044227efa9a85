namespace Rig.Protocol.Archives;

/// <summary>Path rules for archive entries and device paths (CHECKLIST 10, 11, 16). Pure string checks: they
/// refuse before anything touches a disk.</summary>
public static class ArchivePaths
{
    /// <summary>Normalise an archive entry name (<c>./a//b/</c> -> <c>a/b</c>) or throw if it is unsafe:
    /// empty, NUL, backslash, absolute, drive letter, a <c>..</c> segment, or too long.</summary>
    public static string NormalizeEntryName(string name, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
            throw new ArchiveRejectedException("bad-path", "An archive entry has an empty name; rebuild the archive.");
        if (name.Length > maxLength)
            throw new ArchiveRejectedException("bad-path", $"Archive entry name is {name.Length} characters long (limit {maxLength}): '{Shorten(name)}'.");
        if (name.Contains('\0', StringComparison.Ordinal))
            throw new ArchiveRejectedException("bad-path", $"Archive entry name contains a NUL character: '{Shorten(name.Replace('\0', '?'))}'.");
        if (name.Contains('\\', StringComparison.Ordinal))
            throw new ArchiveRejectedException("bad-path", $"Archive entry '{Shorten(name)}' contains a backslash; Rig archives use '/' only.");
        if (name.StartsWith('/'))
            throw new ArchiveRejectedException("absolute-path", $"Archive entry '{Shorten(name)}' is an absolute path; entries must be relative to the archive root.");
        if (name.Length >= 2 && char.IsAsciiLetter(name[0]) && name[1] == ':')
            throw new ArchiveRejectedException("absolute-path", $"Archive entry '{Shorten(name)}' starts with a drive letter.");

        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
                continue;
            if (segment == "..")
                throw new ArchiveRejectedException("path-traversal", $"Archive entry '{Shorten(name)}' contains '..'; the whole package is refused.");
            if (segment.Any(char.IsControl))
                throw new ArchiveRejectedException("bad-path", $"Archive entry '{Shorten(name)}' contains a control character.");
            segments.Add(segment);
        }
        if (segments.Count == 0)
            throw new ArchiveRejectedException("bad-path", $"Archive entry '{Shorten(name)}' names the archive root itself.");
        return string.Join('/', segments);
    }

    /// <summary>True when a symbolic link at <paramref name="linkPath"/> (relative to the install root, '/'
    /// separated) pointing at <paramref name="target"/> stays inside the root when resolved lexically.
    /// Absolute targets are refused: inside a sandbox root they would point outside it. So is a <c>..</c> after a
    /// name (<c>d/up/..</c>): the name may itself be a link (<c>d/up -> ..</c>), and the kernel resolves it before
    /// climbing, so the lexical answer would be wrong. <c>..</c> segments are allowed only at the start.</summary>
    public static bool LinkStaysInside(string linkPath, string target)
    {
        ArgumentNullException.ThrowIfNull(linkPath);
        ArgumentNullException.ThrowIfNull(target);
        if (target.Length == 0 || target.StartsWith('/') || target.Contains('\\', StringComparison.Ordinal) || target.Contains('\0', StringComparison.Ordinal))
            return false;
        var depth = linkPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Length - 1; // the link's directory
        var descended = false;
        foreach (var segment in target.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
                continue;
            if (segment == "..")
            {
                depth--;
                if (depth < 0 || descended)
                    return false;
            }
            else
            {
                depth++;
                descended = true;
            }
        }
        return true;
    }

    /// <summary>Check a device path used by a command (write-file, delete-file): absolute, '/'-separated,
    /// no '..' or '.' segments, no NUL or control characters. Returns the segments.</summary>
    public static string[] SplitDevicePath(string path, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path[0] != '/')
            throw new ArgumentException($"Path '{Shorten(path)}' is not absolute; device paths start with '/'.", nameof(path));
        if (path.Length > maxLength)
            throw new ArgumentException($"Path '{Shorten(path)}' is longer than {maxLength} characters.", nameof(path));
        if (path.Contains('\\', StringComparison.Ordinal) || path.Any(char.IsControl))
            throw new ArgumentException($"Path '{Shorten(path)}' contains a backslash or a control character.", nameof(path));
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
            throw new ArgumentException("Path '/' names the root directory itself; name a file.", nameof(path));
        foreach (var s in segments)
        {
            if (s is "." or "..")
                throw new ArgumentException($"Path '{Shorten(path)}' contains a '{s}' segment; write the path without it.", nameof(path));
        }
        return segments;
    }

    private static string Shorten(string s) => s.Length <= 200 ? s : string.Concat(s.AsSpan(0, 200), "...");
}
