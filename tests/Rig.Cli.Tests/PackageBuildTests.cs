using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Rig.Protocol;
using Rig.Protocol.Archives;

namespace Rig.Cli.Tests;

/// <summary><c>rig package build</c> as an operator runs it: a real process, offline, on real directories.</summary>
public sealed class PackageBuildTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rig-build-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Stdout, string Stderr)> RigAsync(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rig.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        info.Environment["COLUMNS"] = "200";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A package directory: package.yaml, a script, a config file, a secret with a mode, a relative link.</summary>
    private string Package(string name = "web-app", string? manifest = null)
    {
        var dir = Path.Combine(_dir, "src", name);
        Directory.CreateDirectory(Path.Combine(dir, "files/usr/bin"));
        Directory.CreateDirectory(Path.Combine(dir, "files/etc/web-app"));
        File.WriteAllText(Path.Combine(dir, "package.yaml"), manifest ?? """
            name: web-app
            version: 2.1.0-1
            description: A web application
            osFamily: linux
            architecture: amd64
            service:
              name: web-app
              enable: false
            reboot: true
            modes:
              /etc/web-app/secret: "0600"
            """);
        File.WriteAllText(Path.Combine(dir, "files/usr/bin/web-app"), "#!/bin/sh\necho web-app\n");
        File.SetUnixFileMode(Path.Combine(dir, "files/usr/bin/web-app"), (UnixFileMode)Convert.ToInt32("775", 8));
        File.WriteAllText(Path.Combine(dir, "files/etc/web-app/app.conf"), "port = 8080\n");
        File.WriteAllText(Path.Combine(dir, "files/etc/web-app/secret"), "s3cret\n");
        File.CreateSymbolicLink(Path.Combine(dir, "files/usr/bin/webapp"), "web-app");
        return dir;
    }

    /// <summary>The output as one line: Spectre.Console wraps long messages at 80 columns when output is redirected
    /// (issue 11 section 9 removes that): a line end, with or without the space it replaced, reads as a space.</summary>
    private static string Flat(string output) => System.Text.RegularExpressions.Regex.Replace(output, " ?\r?\n", " ");

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private string[] Written() => [.. Directory.EnumerateFiles(_dir, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/src/", StringComparison.Ordinal))];

    [Fact]
    public async Task Build_writes_NAME_VERSION_in_the_current_directory_with_what_the_manifest_says_and_the_importer_accepts_it()
    {
        var dir = Package();
        var cwd = Directory.CreateDirectory(Path.Combine(_dir, "out")).FullName;

        var (code, stdout, stderr) = await RigAsync(cwd, "package", "build", dir, "--json");

        Assert.True(code == 0, stdout + stderr);
        var path = Path.Combine(cwd, "web-app_2.1.0-1.rig.tar.gz");
        Assert.True(File.Exists(path), stdout);
        var json = JsonDocument.Parse(stdout).RootElement.GetProperty("packages")[0];
        Assert.Equal(path, json.GetProperty("file").GetString());
        Assert.Equal(Sha256Of(path), json.GetProperty("sha256").GetString());

        using var stream = File.OpenRead(path);
        var archive = RigArchive.Inspect(stream, RigLimits.Default); // what `rig package add` runs
        var m = archive.Manifest;
        Assert.Equal(("web-app", "2.1.0-1", "A web application", "linux", "amd64", true), (m.Name, m.Version, m.Description, m.OsFamily, m.Architecture, m.Reboot));
        Assert.Equal(new RigArchiveService("web-app", Enable: false), m.Service);
        Assert.Equal(
            [("/etc/web-app/app.conf", "0644"), ("/etc/web-app/secret", "0600"), ("/usr/bin/web-app", "0755")],
            m.Files.Select(f => (f.Path, f.Mode)));
        var link = Assert.Single(archive.Entries, e => e.Kind == ArchiveEntryKind.SymbolicLink);
        Assert.Equal(("usr/bin/webapp", "web-app"), (link.Path, link.LinkTarget));
    }

    [Fact]
    public async Task The_same_directory_gives_the_same_digest_whatever_the_times_group_bits_and_process()
    {
        var dir = Package();
        var (code, _, stderr) = await RigAsync(_dir, "package", "build", dir, "-o", "first.rig.tar.gz");
        Assert.True(code == 0, stderr);

        // Another checkout: other times, other umask (group-writable), same contents and executable bits.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir, "files"), "*", SearchOption.AllDirectories))
        {
            if (new FileInfo(file).LinkTarget is not null)
                continue;
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-3));
            File.SetUnixFileMode(file, File.GetUnixFileMode(file) | UnixFileMode.GroupWrite);
        }
        (code, _, stderr) = await RigAsync(_dir, "package", "build", dir, "-o", "second.rig.tar.gz");
        Assert.True(code == 0, stderr);

        Assert.Equal(Sha256Of(Path.Combine(_dir, "first.rig.tar.gz")), Sha256Of(Path.Combine(_dir, "second.rig.tar.gz")));
    }

    public static TheoryData<string, string, string> BadManifests => new()
    {
        { "name: 'web;rm -rf /'\nversion: 1.0\n", "bad-name", "web;rm -rf /" },
        { "name: 'web$(reboot)'\nversion: 1.0\n", "bad-name", "web$(reboot)" },
        { "name: \"web\\nother\"\nversion: 1.0\n", "bad-name", "web\\nother" },
        { "name: -web\nversion: 1.0\n", "bad-name", "-web" },
        { "name: web\nversion: '-1.0'\n", "bad-version", "-1.0" },
        { "name: web\nversion: '1.0;id'\n", "bad-version", "1.0;id" },
        { "name: web\n", "missing version", "`version:` is missing" },
        { "name: web\nversion: 1.0\nsevrice: web\n", "unknown key", "sevrice" },
        { "name: web\nversion: 1.0\nservice: 'web app'\n", "bad service", "web app" },
        { "name: web\nversion: 1.0\nmodes:\n  /etc/nothing: \"0600\"\n", "mode of a missing file", "/etc/nothing" },
        { "name: web\nversion: 1.0\nmodes:\n  /usr/bin/web-app: \"4755\"\n", "setuid mode", "4755" },
        { "name: [web\n", "bad YAML", "not valid YAML" },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public async Task A_bad_manifest_is_refused_naming_the_value_with_exit_1_and_nothing_written(string manifest, string what, string named)
    {
        var dir = Package(manifest: manifest);

        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);

        Assert.True(code == 1, $"{what}: exit {code}: {stdout}{stderr}");
        Assert.Contains(named, Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    [Fact]
    public async Task A_directory_without_package_yaml_is_refused_saying_what_to_create()
    {
        var dir = Package();
        File.Delete(Path.Combine(dir, "package.yaml"));

        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);

        Assert.Equal(1, code);
        Assert.Contains("has no package.yaml", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Contains("docs/PACKAGES.md", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    public static TheoryData<string> Escapes => new() { "../../../../etc/passwd", "/etc/passwd", "../../.." };

    [Theory]
    [MemberData(nameof(Escapes))]
    public async Task A_link_leaving_the_files_tree_is_refused_naming_its_target(string target)
    {
        var dir = Package();
        File.CreateSymbolicLink(Path.Combine(dir, "files/etc/web-app/escape"), target);

        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);

        Assert.Equal(1, code);
        Assert.Contains($"points to '{target}'", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    [Fact]
    public async Task Device_nodes_fifos_and_setuid_files_are_refused()
    {
        var dir = Package();
        var fifo = Path.Combine(dir, "files/etc/web-app/fifo");
        await RunAsync("mkfifo", fifo);
        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);
        Assert.Equal(1, code);
        Assert.Contains($"'{fifo}' is a fifo (named pipe)", Flat(stdout + stderr), StringComparison.Ordinal);
        File.Delete(fifo);

        if (Environment.UserName == "root") // mknod needs CAP_MKNOD; the tests run as root (README)
        {
            var node = Path.Combine(dir, "files/etc/web-app/null");
            await RunAsync("mknod", node, "c", "1", "3");
            (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);
            Assert.Equal(1, code);
            Assert.Contains($"'{node}' is a character device", Flat(stdout + stderr), StringComparison.Ordinal);
            File.Delete(node);
        }

        var setuid = Path.Combine(dir, "files/usr/bin/web-app");
        File.SetUnixFileMode(setuid, (UnixFileMode)Convert.ToInt32("4755", 8));
        (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);
        Assert.Equal(1, code);
        Assert.Contains("setuid or setgid bit (mode 4755)", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    [Fact]
    public async Task A_file_the_importer_would_take_for_a_compression_bomb_is_refused_before_anything_is_written()
    {
        var dir = Package();
        File.WriteAllBytes(Path.Combine(dir, "files/etc/web-app/zeros"), new byte[4 * 1024 * 1024]);

        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", dir);

        Assert.Equal(1, code);
        Assert.Contains("would be refused by `rig package add`", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Contains("compression bomb", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    [Fact]
    public async Task One_bad_directory_among_several_builds_none()
    {
        var good = Package();
        var bad = Package("bad", "name: bad\nversion: 1.0\nextra: 1\n");

        var (code, stdout, stderr) = await RigAsync(_dir, "package", "build", good, bad);

        Assert.Equal(1, code);
        Assert.Contains("extra", Flat(stdout + stderr), StringComparison.Ordinal);
        Assert.Empty(Written());
    }

    [Fact]
    public async Task Output_with_several_directories_is_a_usage_error()
    {
        var (code, _, _) = await RigAsync(_dir, "package", "build", Package(), Package("other"), "-o", "x.rig.tar.gz");

        Assert.Equal(64, code);
        Assert.Empty(Written());
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
    }
}
