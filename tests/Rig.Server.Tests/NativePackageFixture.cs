using System.Buffers.Binary;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Rig.Server.Tests;

/// <summary>Real packages built once per test run with the machine's own tools (dpkg-deb, rpmbuild), so the
/// readers are tested against what those tools really write. Needs the apt packages dpkg-dev (or dpkg) and rpm.</summary>
public sealed class NativePackageFixture : IAsyncLifetime
{
    public const string DebControl = """
        Package: rig-test
        Version: 1:2.3~rc1-4
        Architecture: all
        Maintainer: Rig Tests <tests@example.invalid>
        Pre-Depends: dpkg (>= 1.19)
        Depends: bash (>= 5), coreutils | busybox,
         libc6
        Provides: rig-virtual (= 1.0), other-virtual
        Conflicts: old-rig
        Breaks: rig-legacy (<< 1:2)
        Description: Rig test package
         A package built by the Rig tests.
         .
         It holds one file.

        """;

    private const string RpmSpecTemplate = """
        Name: rigtest
        Version: 1.2.3
        Release: 4
        @EPOCH@
        Summary: Rig test package
        License: MIT
        BuildArch: noarch
        Requires: bash
        Requires: coreutils >= 8.0
        Provides: rigtest-virtual = 1.0
        Conflicts: oldrig < 1.0
        Obsoletes: rigtest-legacy

        %description
        A package built by the Rig tests.

        %install
        mkdir -p %{buildroot}/opt/rigtest %{buildroot}/usr/bin
        echo hello > %{buildroot}/opt/rigtest/hello.txt
        echo '#!/bin/sh' > %{buildroot}/usr/bin/rigtest

        %files
        /opt/rigtest/hello.txt
        /usr/bin/rigtest

        """;

    private readonly TempDirectory _dir = new();

    /// <summary>.deb files built by dpkg-deb, by compression (-Z): xz, gzip, zstd, none.</summary>
    public Dictionary<string, byte[]> Debs { get; } = [];

    /// <summary>RPM built by rpmbuild with Epoch 2.</summary>
    public byte[] RpmWithEpoch { get; private set; } = [];

    /// <summary>RPM built by rpmbuild without Epoch.</summary>
    public byte[] RpmWithoutEpoch { get; private set; } = [];

    /// <summary>Paths of the files above, for the tools' own queries (the oracle).</summary>
    public Dictionary<string, string> Paths { get; } = [];

    public async Task InitializeAsync()
    {
        foreach (var compression in (string[])["xz", "gzip", "zstd", "none"])
        {
            var root = Path.Combine(_dir.Path, "deb-" + compression);
            var debian = Path.Combine(root, "DEBIAN");
            Directory.CreateDirectory(debian);
            Directory.CreateDirectory(Path.Combine(root, "usr", "share", "rig-test"));
            await File.WriteAllTextAsync(Path.Combine(debian, "control"), DebControl);
            await File.WriteAllTextAsync(Path.Combine(root, "usr", "share", "rig-test", "hello.txt"), "hello\n");
            // Temp directories are created 0700; dpkg-deb wants the control directory 0755..0775.
            foreach (var dir in Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root))
            {
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
            }
            var output = Path.Combine(_dir.Path, $"rig-test-{compression}.deb");
            await Tools.RunAsync("dpkg-deb", ["--root-owner-group", "-Z" + compression, "--build", root, output]);
            Debs[compression] = await File.ReadAllBytesAsync(output);
            Paths["deb-" + compression] = output;
        }

        RpmWithEpoch = await BuildRpmAsync("epoch", "Epoch: 2");
        RpmWithoutEpoch = await BuildRpmAsync("noepoch", "");
    }

    private async Task<byte[]> BuildRpmAsync(string label, string epochLine)
    {
        var top = Path.Combine(_dir.Path, "rpm-" + label);
        var output = Path.Combine(top, "out");
        Directory.CreateDirectory(top);
        var spec = Path.Combine(top, "rigtest.spec");
        await File.WriteAllTextAsync(spec, RpmSpecTemplate.Replace("@EPOCH@", epochLine, StringComparison.Ordinal));
        await Tools.RunAsync("rpmbuild", ["-bb", "--define", "_topdir " + top, "--define", "_rpmdir " + output, spec]);
        var file = Directory.GetFiles(output, "*.rpm", SearchOption.AllDirectories).Single();
        Paths["rpm-" + label] = file;
        return await File.ReadAllBytesAsync(file);
    }

    public Task DisposeAsync()
    {
        _dir.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>A temporary directory removed at dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("rig-native-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Runs the machine's tools with argument vectors (never a shell).</summary>
public static class Tools
{
    public static async Task<string> RunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var (exitCode, stdout, stderr) = await TryRunAsync(program, arguments, workingDirectory, timeout);
        if (exitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {exitCode}.\nstdout:\n{stdout}\nstderr:\n{stderr}");
        return stdout;
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> TryRunAsync(string program, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
            psi.ArgumentList.Add(argument);
        psi.Environment["LC_ALL"] = "C";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in time.");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Builds .deb files byte by byte, for contents that dpkg-deb refuses to build (hostile names, damage).</summary>
public static class HandBuiltDeb
{
    /// <summary>An ar archive of the given members, as GNU ar and dpkg-deb write it.</summary>
    public static byte[] Ar(params (string Name, byte[] Data)[] members) => ArRaw([.. members.Select(m => (m.Name, m.Data.LongLength.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Data))]);

    /// <summary>Like <see cref="Ar"/> with the size field written as given (to declare sizes the data does not have).</summary>
    public static byte[] ArRaw(params (string Name, string SizeField, byte[] Data)[] members)
    {
        using var ms = new MemoryStream();
        ms.Write("!<arch>\n"u8);
        foreach (var (name, size, data) in members)
        {
            var header = $"{name,-16}{"0",-12}{"0",-6}{"0",-6}{"100644",-8}{size,-10}`\n";
            ms.Write(Encoding.ASCII.GetBytes(header));
            ms.Write(data);
            if (data.Length % 2 == 1)
                ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }

    /// <summary>A tar of the given files (names as given, e.g. "./control").</summary>
    public static byte[] Tar(params (string Name, byte[] Data)[] files)
    {
        using var ms = new MemoryStream();
        using (var writer = new TarWriter(ms, TarEntryFormat.Gnu, leaveOpen: true))
        {
            writer.WriteEntry(new GnuTarEntry(TarEntryType.Directory, "./"));
            foreach (var (name, data) in files)
                writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        }
        return ms.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
            gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>zstd as a stream (no content size in the frame header, so the window size is written).</summary>
    public static byte[] Zstd(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var zstd = new SharpCompress.Compressors.ZStandard.CompressionStream(ms, level: 3, bufferSize: 0, leaveOpen: true))
            zstd.Write(data);
        return ms.ToArray();
    }

    /// <summary>CRC-32 (IEEE), as xz block headers use.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320u : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A complete .deb whose control file is <paramref name="control"/>.</summary>
    public static byte[] WithControl(string control) => Ar(
        ("debian-binary", "2.0\n"u8.ToArray()),
        ("control.tar.gz", Gzip(Tar(("./control", Encoding.UTF8.GetBytes(control))))),
        ("data.tar.gz", Gzip(Tar())));

    /// <summary>The members of an ar archive: name, header offset, data offset, size.</summary>
    public static IReadOnlyList<(string Name, int HeaderOffset, int DataOffset, int Size)> Members(byte[] ar)
    {
        var result = new List<(string, int, int, int)>();
        var offset = 8;
        while (offset + 60 <= ar.Length)
        {
            var name = Encoding.ASCII.GetString(ar, offset, 16).TrimEnd(' ', '/');
            var size = int.Parse(Encoding.ASCII.GetString(ar, offset + 48, 10).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            result.Add((name, offset, offset + 60, size));
            offset += 60 + size + (size & 1);
        }
        return result;
    }
}

/// <summary>Offsets inside a real RPM, found by walking its structure.</summary>
public sealed record RpmLayout(int SignatureStart, int SignatureStoreStart, int SignatureStoreLength, int MainStart, int MainIndexStart, int MainStoreStart, int MainStoreLength, int PayloadStart)
{
    public static RpmLayout Of(byte[] rpm)
    {
        const int sigStart = 96;
        var sigCount = BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(sigStart + 8));
        var sigStoreLength = BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(sigStart + 12));
        var sigStoreStart = sigStart + 16 + (16 * sigCount);
        var mainStart = sigStoreStart + sigStoreLength + ((8 - (sigStoreLength % 8)) % 8);
        var mainCount = BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(mainStart + 8));
        var mainStoreLength = BinaryPrimitives.ReadInt32BigEndian(rpm.AsSpan(mainStart + 12));
        var mainStoreStart = mainStart + 16 + (16 * mainCount);
        return new RpmLayout(sigStart, sigStoreStart, sigStoreLength, mainStart, mainStart + 16, mainStoreStart, mainStoreLength, mainStoreStart + mainStoreLength);
    }
}

/// <summary>A stream that cannot seek (like an upload body) and counts what was read from it.</summary>
public sealed class NonSeekableStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data, writable: false);

    public long BytesRead { get; private set; }
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count)
    {
        // Hand out at most 7 bytes at a time so that readers that assume full reads are caught.
        var n = _inner.Read(buffer, offset, Math.Min(count, 7));
        BytesRead += n;
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _inner.Dispose();
        base.Dispose(disposing);
    }
}
