using System.Buffers.Binary;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Rig.Fuzz;
using Rig.Model.Files;
using Rig.Protocol;
using Rig.Protocol.Archives;
using Rig.Server.Packages;
using SharpFuzz;

// One fuzzing target per parser that faces the network or files, selected by the first argument (run.sh runs it
// under afl-fuzz). Each target lets through only the parser's own refusal; any other exception is a crash for afl.
// `Rig.Fuzz seeds DIR` writes the seed inputs (bench/Rig.Fuzz/seeds/<target>/); run it from a plain build, not from the
// instrumented one, which may only call Rig code inside Fuzzer.OutOfProcess.Run.
if (args is ["seeds", var directory])
{
    Seeds.Write(directory);
    return 0;
}
if (args.Length != 1 || !Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Rig.Fuzz TARGET (under afl-fuzz; alone it runs the input on standard input once)\n       Rig.Fuzz seeds DIR\ntargets: {string.Join(", ", Targets.All.Keys)}");
    return 2;
}
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;

namespace Rig.Fuzz
{
    /// <summary>The targets: each takes the input bytes and swallows only the refusal its parser documents. Nothing here
    /// may touch an instrumented assembly before <see cref="Fuzzer"/> runs (its coverage map is not set up until then),
    /// so the limits are read inside the targets.</summary>
    internal static class Targets
    {
        private static RigLimits Limits => RigLimits.Default;

        public static readonly Dictionary<string, Action<byte[]>> All = new(StringComparer.Ordinal)
        {
            ["exchange"] = bytes => Refused<ProtocolException>(() => RigJson.Parse(bytes, RigJson.Default.ExchangeRequest, "exchange request")),
            ["enroll"] = bytes => Refused<ProtocolException>(() => RigJson.Parse(bytes, RigJson.Default.EnrollRequest, "enroll request")),
            ["archive"] = bytes => Refused<ArchiveRejectedException>(() => RigArchive.Inspect(new MemoryStream(bytes), Limits)),
            ["deb"] = bytes => Refused<PackageRejectedException>(() => NativePackageReader.ReadDeb(new MemoryStream(bytes), Limits)),
            ["rpm"] = bytes => Refused<PackageRejectedException>(() => NativePackageReader.ReadRpm(new MemoryStream(bytes), Limits)),
            ["model"] = bytes =>
            {
                var result = ModelFiles.Read([new ModelSourceFile("fuzz.yaml", Encoding.UTF8.GetString(bytes))]);
                // The reader never throws: a model, or errors that each name the file and a line.
                if ((result.Model is null) == (result.Errors.Count == 0) || result.Errors.Any(e => e.Location.File != "fuzz.yaml" || e.Location.Line < 1))
                    throw new InvalidOperationException("model reader broke its contract: " + string.Join("; ", result.Errors));
            },
        };

        private static void Refused<TRefusal>(Action parse) where TRefusal : Exception
        {
            try
            {
                parse();
            }
            catch (TRefusal)
            {
                // The documented refusal: not a finding.
            }
        }
    }

    /// <summary>Small seed inputs, one directory per target, made by code so they are reviewable and reproducible
    /// (the model target's seeds are examples/shop's YAML files).</summary>
    internal static class Seeds
    {
        public static void Write(string root)
        {
            Put(root, "exchange", "startup.json", """{"protocolVersion":1,"device":"web-1","requestId":"r-1","reason":"Startup","agentVersion":"0.1.0","pokePort":7444,"maxCommands":32,"inventory":{"hostname":"web-1","platform":"linux","packages":[{"name":"nginx","version":"1.24.0","format":"rig","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}],"files":[],"services":[{"name":"nginx.service","running":true,"enabled":true}],"hardware":{"cpuCount":2,"memoryMiB":2048,"disks":[{"name":"vda","sizeBytes":10737418240,"rotational":false}],"nics":[{"name":"eth0","state":"up","addresses":["10.0.0.5/24"],"mac":"52:54:00:12:34:56"}]}}}"""u8.ToArray());
            Put(root, "exchange", "results.json", """{"protocolVersion":1,"device":"web-1","requestId":"r-2","reason":"Continue","result":{"commandId":"c-1","outcome":"Succeeded","output":"ok\n","durationMs":12},"results":[{"commandId":"c-2","outcome":"Failed","error":"exit 1","errorCode":"install-failed"}],"rebooted":"c-0","inquire":false}"""u8.ToArray());
            Put(root, "enroll", "enroll.json", """{"protocolVersion":1,"token":"rigen_0123456789abcdef","device":"web-1","csrPem":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n","agentVersion":"0.1.0"}"""u8.ToArray());

            using (var archive = new MemoryStream())
            {
                RigArchiveWriter.Write(archive, new RigArchiveManifest { Name = "demo", Version = "1.0-1", Service = new RigArchiveService("demo.service") },
                    [new ArchiveInput("/etc/demo.conf", "port=8080\n"u8.ToArray(), "0640"), new ArchiveInput("/usr/bin/demo", "#!/bin/sh\necho demo\n"u8.ToArray(), "0755")]);
                Put(root, "archive", "demo.rig.tar.gz", archive.ToArray());
            }

            var control = "Package: hello\nVersion: 1:2.10-3\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nDescription: example\n more\n"u8.ToArray();
            Put(root, "deb", "gzip.deb", Deb("control.tar.gz", Gzip(Tar(("./control", control)))));
            Put(root, "deb", "plain.deb", Deb("control.tar", Tar(("./control", control))));

            Put(root, "rpm", "epoch.rpm", Rpm(epoch: 2));
            Put(root, "rpm", "plain.rpm", Rpm(epoch: null));

            // The model seeds are copies of examples/shop's YAML files (a real model), committed beside these.

            // Each seed must be accepted: a seed the parser refuses would start the fuzzer outside the interesting paths.
            Check(root, "deb", b => NativePackageReader.ReadDeb(new MemoryStream(b), RigLimits.Default));
            Check(root, "rpm", b => NativePackageReader.ReadRpm(new MemoryStream(b), RigLimits.Default));
            Check(root, "archive", b => RigArchive.Inspect(new MemoryStream(b), RigLimits.Default));
        }

        private static void Put(string root, string target, string name, byte[] bytes)
        {
            Directory.CreateDirectory(Path.Combine(root, target));
            File.WriteAllBytes(Path.Combine(root, target, name), bytes);
        }

        private static void Check(string root, string target, Action<byte[]> read)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(root, target)))
                read(File.ReadAllBytes(file));
        }

        private static byte[] Deb(string controlName, byte[] controlMember)
        {
            using var ar = new MemoryStream();
            ar.Write("!<arch>\n"u8);
            foreach (var (name, data) in new[] { ("debian-binary", "2.0\n"u8.ToArray()), (controlName, controlMember), ("data.tar.gz", Gzip(Tar())) })
            {
                ar.Write(Encoding.ASCII.GetBytes($"{name,-16}{"0",-12}{"0",-6}{"0",-6}{"100644",-8}{data.Length,-10}`\n"));
                ar.Write(data);
                if (data.Length % 2 == 1)
                    ar.WriteByte((byte)'\n');
            }
            return ar.ToArray();
        }

        private static byte[] Tar(params (string Name, byte[] Data)[] files)
        {
            using var output = new MemoryStream();
            using (var writer = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true))
            {
                foreach (var (name, data) in files)
                    writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data), ModificationTime = DateTimeOffset.UnixEpoch });
            }
            return output.ToArray();
        }

        private static byte[] Gzip(byte[] data)
        {
            using var output = new MemoryStream();
            using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
                gzip.Write(data);
            return output.ToArray();
        }

        /// <summary>A binary RPM reduced to what the reader reads: the lead, a signature header declaring the size, the
        /// main header with name, version, release, epoch, arch, summary and requires, and a one-byte payload.</summary>
        private static byte[] Rpm(int? epoch)
        {
            var lead = new byte[96];
            new byte[] { 0xED, 0xAB, 0xEE, 0xDB, 3, 0 }.CopyTo(lead, 0);
            Encoding.ASCII.GetBytes("hello-2.10-3").CopyTo(lead, 10);
            BinaryPrimitives.WriteUInt16BigEndian(lead.AsSpan(78), 5);

            var tags = new List<(int Tag, int Type, byte[] Data, int Count)>
            {
                (1000, 6, Z("hello"), 1), (1001, 6, Z("2.10"), 1), (1002, 6, Z("3"), 1), (1004, 9, Z("example"), 1),
                (1022, 6, Z("x86_64"), 1), (1049, 8, [.. Z("libc.so.6()(64bit)"), .. Z("rpmlib(PayloadIsZstd)")], 2),
            };
            if (epoch is { } e)
                tags.Add((1003, 4, BigEndian(e), 1));
            var main = Header(tags);
            var payload = new byte[] { 0 };
            var signature = Header([(1000, 4, BigEndian(main.Length + payload.Length), 1)]);
            var padding = new byte[(8 - (signature.Length - 16 - 16) % 8) % 8];
            return [.. lead, .. signature, .. padding, .. main, .. payload];
        }

        private static byte[] Header(List<(int Tag, int Type, byte[] Data, int Count)> tags)
        {
            var store = new MemoryStream();
            var index = new MemoryStream();
            foreach (var (tag, type, data, count) in tags.OrderBy(t => t.Tag))
            {
                if (type == 4)
                    while (store.Length % 4 != 0) store.WriteByte(0);
                index.Write(BigEndian(tag));
                index.Write(BigEndian(type));
                index.Write(BigEndian((int)store.Length));
                index.Write(BigEndian(count));
                store.Write(data);
            }
            return [0x8E, 0xAD, 0xE8, 0x01, 0, 0, 0, 0, .. BigEndian(tags.Count), .. BigEndian((int)store.Length), .. index.ToArray(), .. store.ToArray()];
        }

        private static byte[] Z(string s) => [.. Encoding.UTF8.GetBytes(s), 0];

        private static byte[] BigEndian(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, value);
            return bytes;
        }
    }
}
