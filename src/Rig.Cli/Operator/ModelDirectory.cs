using System.Text;
using Rig.Model.Files;
using Rig.Protocol;

namespace Rig.Cli.Operator;

/// <summary>The disk side of model files (the format itself, pure, is <see cref="ModelFiles"/>): loads every
/// <c>*.yaml</c>/<c>*.yml</c> file of a model directory and every file under <c>templates/</c>, and saves an
/// exported model into a new directory.</summary>
internal static class ModelDirectory
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Load a model directory: paths relative to it, '/'-separated, in ordinal order. Hidden entries
    /// (starting with '.') are skipped. Refuses symbolic links that lead outside the directory and files over
    /// <see cref="RigLimits.MaxModelFileBytes"/>.</summary>
    public static IReadOnlyList<ModelSourceFile> Load(string directory) => Load(directory, RigLimits.Default);

    /// <summary>Load with explicit limits (tests shrink them).</summary>
    public static IReadOnlyList<ModelSourceFile> Load(string directory, RigLimits limits)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(limits);
        if (!Directory.Exists(directory))
            throw new CliException($"Model directory '{directory}' does not exist; give the directory that holds the model's *.yaml files.");
        var root = RealPath(directory);
        var files = new List<ModelSourceFile>();
        var visited = new HashSet<string>(StringComparer.Ordinal) { root };
        Walk(root, "");
        return files;

        void Walk(string realDirectory, string relative)
        {
            foreach (var entry in new DirectoryInfo(realDirectory).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                if (entry.Name.StartsWith('.'))
                    continue;
                var path = relative.Length == 0 ? entry.Name : $"{relative}/{entry.Name}";
                var isDirectory = entry is DirectoryInfo;
                if (!isDirectory && !Wanted(path))
                    continue;
                var real = entry.FullName;
                if (entry.LinkTarget is not null)
                {
                    real = RealPath(entry.FullName);
                    if (!real.StartsWith(root + "/", StringComparison.Ordinal))
                        throw new CliException($"'{Path.Combine(directory, path)}' is a symbolic link to '{real}', outside the model directory; copy what it points to into the directory instead.");
                    isDirectory = Directory.Exists(real);
                    if (!isDirectory && !File.Exists(real))
                        throw new CliException($"'{Path.Combine(directory, path)}' is a symbolic link to '{real}', which does not exist; fix or remove the link.");
                }
                if (isDirectory)
                {
                    if (visited.Add(real))
                        Walk(real, path);
                    continue;
                }
                files.Add(new ModelSourceFile(path, ReadText(real, Path.Combine(directory, path), limits.MaxModelFileBytes)));
            }
        }
    }

    /// <summary>Save a model's files (from <see cref="ModelFiles.Write"/>) into <paramref name="directory"/>, which
    /// must not exist or be empty, so that no file of another model is merged into this one.</summary>
    public static void Save(string directory, IReadOnlyList<ModelSourceFile> files)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(files);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any(e => !Path.GetFileName(e).StartsWith('.')))
            throw new CliException($"'{directory}' is not empty; export the model into a new directory (every *.yaml file of a directory is part of its model).");
        var root = Path.GetFullPath(directory);
        foreach (var file in files)
        {
            var target = Path.GetFullPath(Path.Combine(root, file.Path));
            if (Path.IsPathRooted(file.Path) || !target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new CliException($"Model file path '{file.Path}' leaves the model directory.");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, file.Text, Utf8);
        }
    }

    /// <summary>Model YAML anywhere in the tree; any file under templates/.</summary>
    private static bool Wanted(string path) =>
        path.StartsWith(ModelFiles.TemplatesDirectory + "/", StringComparison.Ordinal) ||
        path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase);

    private static string ReadText(string real, string shown, int maxBytes)
    {
        var length = new FileInfo(real).Length;
        if (length > maxBytes)
            throw new CliException($"'{shown}' is {length} bytes, more than the {maxBytes / (1024 * 1024)} MiB a model file may have; split it or move large content into packages.");
        if (length == 0)
            return ""; // empty, or not a regular file (a FIFO or device reports 0): never opened, so never blocks
        using var stream = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read);
        var buffer = new byte[Math.Min(length, maxBytes) + 1];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = stream.Read(buffer, read, buffer.Length - read)) > 0)
            read += n;
        if (read > maxBytes)
            throw new CliException($"'{shown}' grew past {maxBytes / (1024 * 1024)} MiB while it was read.");
        var bytes = buffer.AsSpan(0, read);
        if (bytes.StartsWith(Utf8.Preamble))
            bytes = bytes[Utf8.Preamble.Length..];
        return Utf8.GetString(bytes);
    }

    /// <summary>The path with every symbolic link resolved (like realpath(3)), so that "inside the directory"
    /// is decided on where a file really is.</summary>
    private static string RealPath(string path, int depth = 0)
    {
        if (depth > 40)
            throw new CliException($"Too many levels of symbolic links at '{path}'.");
        var full = Path.GetFullPath(path);
        var current = Path.GetPathRoot(full)!;
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            if (new FileInfo(next).LinkTarget is { } target)
                next = RealPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target), depth + 1);
            current = next;
        }
        return current.Length > 1 ? current.TrimEnd(Path.DirectorySeparatorChar) : current;
    }
}
