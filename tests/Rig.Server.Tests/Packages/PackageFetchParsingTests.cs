using Rig.Protocol.Messages;
using Rig.Server.Packages;

namespace Rig.Server.Tests.Packages;

/// <summary>What <c>rig package fetch</c> reads from apt and writes for it. The samples are apt 2.6's real output
/// (Debian 12, <c>LC_ALL=C</c>); the end-to-end tests (Rig.EndToEnd PackageFetchTests) run the real apt.</summary>
public sealed class PackageFetchParsingTests
{
    private const string Simulation = """
        NOTE: This is only a simulation!
        Reading package lists...
        Building dependency tree...
        The following NEW packages will be installed:
          libelf1 nginx-light
        1 upgraded, 2 newly installed, 1 to remove and 87 not upgraded.
        Remv exim4-daemon-light [4.96-15+deb12u4]
        Inst libelf1 (0.188-2.1 Debian:12.15/oldstable [amd64])
        Inst libcap2 [1:2.66-4+deb12u2] (1:2.66-4+deb12u3+b1 Debian:12.15/oldstable [amd64])
        Inst libgcc-s1 (12.2.0-14+deb12u1 Debian:12.15/oldstable [amd64]) []
        Inst libkrb5-3 (1.20.1-2+deb12u5 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
        Inst nginx-light (1.22.1-9+deb12u12 Debian-Security:12/oldstable-security [all])
        Conf libelf1 (0.188-2.1 Debian:12.15/oldstable [amd64])
        Conf nginx-light (1.22.1-9+deb12u12 Debian-Security:12/oldstable-security [all])
        """;

    [Fact]
    public void Simulation_lines_give_the_installs_in_apt_order_with_the_devices_older_version_and_the_removals()
    {
        var (installs, removals) = AptOutput.ParseSimulation(Simulation);
        Assert.Equal(
        [
            new AptInstall("libelf1", "0.188-2.1", "amd64", null),
            new AptInstall("libcap2", "1:2.66-4+deb12u3+b1", "amd64", "1:2.66-4+deb12u2"),
            new AptInstall("libgcc-s1", "12.2.0-14+deb12u1", "amd64", null),
            new AptInstall("libkrb5-3", "1.20.1-2+deb12u5", "amd64", null),
            new AptInstall("nginx-light", "1.22.1-9+deb12u12", "all", null),
        ], installs);
        Assert.Equal(["exim4-daemon-light 4.96-15+deb12u4"], removals);
    }

    [Fact]
    public void Resolver_debug_lines_say_why_each_dependency_is_needed_and_the_first_reason_wins()
    {
        var reasons = AptOutput.ParseReasons("""
              Installing libnginx-mod-http-echo:amd64 as Depends of nginx-light:amd64
                Installing nginx:amd64 as Depends of libnginx-mod-http-echo:amd64
                  Installing libc6:amd64 as Depends of nginx:amd64
                  Installing libc6:amd64 as PreDepends of zlib1g:amd64
            Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])
            """);
        Assert.Equal("Depends of nginx-light", reasons["libnginx-mod-http-echo"]);
        Assert.Equal("Depends of nginx", reasons["libc6"]);
        Assert.Equal(3, reasons.Count);
    }

    [Fact]
    public void Print_uris_lines_give_size_and_digest_under_the_file_name_apt_get_download_writes()
    {
        var uris = AptOutput.ParsePrintUris("""
            'http://deb.debian.org/debian/pool/main/libc/libcap2/libcap2_2.66-4%2bdeb12u3%2bb1_amd64.deb' libcap2_1%3a2.66-4+deb12u3+b1_amd64.deb 27708 SHA256:8d684c673e7483802a5c447834b0df6fce006eb3a7109e1be412f5ad425bb24f
            'http://deb.debian.org/debian-security/pool/updates/main/n/nginx/nginx-light_1.22.1-9%2bdeb12u12_all.deb' nginx-light_1.22.1-9+deb12u12_all.deb 81940 SHA256:AD91C3D966B06251E27F40D46E2B4A5552C701413F0FD94EB88D3C0BBD2A7B8C
            """);
        Assert.Equal(2, uris.Count);
        Assert.Equal(AptOutput.DownloadFileName("libcap2", "1:2.66-4+deb12u3+b1", "amd64"), uris[0].FileName);
        Assert.Equal((27708L, "SHA256", "8d684c673e7483802a5c447834b0df6fce006eb3a7109e1be412f5ad425bb24f"), (uris[0].Size, uris[0].HashKind, uris[0].Hash));
        Assert.Equal("ad91c3d966b06251e27f40d46e2b4a5552c701413f0fd94eb88d3c0bbd2a7b8c", uris[1].Hash); // compared lower-case with the store's digests
    }

    [Fact]
    public void Unknown_names_unknown_versions_and_packages_without_candidate_are_told_apart()
    {
        var (unknown, noCandidate) = AptOutput.ParseNotFound("""
            E: Unable to locate package nosuchpkg-xyz
            E: Version '0.1' for 'nginx-light' was not found
            E: Package 'mail-transport-agent' has no installation candidate
            """);
        Assert.Equal(["nosuchpkg-xyz", "nginx-light=0.1"], unknown);
        Assert.Equal(["mail-transport-agent"], noCandidate);
    }

    [Fact]
    public void Update_problems_include_the_err_details_and_a_bad_signature_is_a_verification_failure()
    {
        var problems = AptOutput.Problems("""
            Get:1 http://127.0.0.1:18080/debian bookworm InRelease [151 kB]
            Err:1 http://127.0.0.1:18080/debian bookworm InRelease
              The following signatures were invalid: BADSIG 6ED0E7B82643E131 Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>
            Reading package lists...
            W: GPG error: http://127.0.0.1:18080/debian bookworm InRelease: The following signatures were invalid: BADSIG 6ED0E7B82643E131
            E: The repository 'http://127.0.0.1:18080/debian bookworm InRelease' is not signed.
            """);
        Assert.Equal(4, problems.Count);
        Assert.True(AptOutput.IsVerificationFailure(string.Join('\n', problems)));
        Assert.True(AptOutput.IsVerificationFailure("E: The repository 'http://127.0.0.1:22683/debian bookworm Release' is no longer signed."));
        Assert.False(AptOutput.IsVerificationFailure("E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Could not resolve 'deb.debian.org'"));
    }

    [Fact]
    public void A_status_file_takes_the_repository_entry_of_a_known_version_and_from_a_device_only_canonical_one_line_relations()
    {
        var base_ = new DeviceBaseSystem(["deb-1"],
        [
            new NativePackage("libcap2", "1:2.66-4+deb12u3+b1", "amd64", "deb"),
            new NativePackage("local-tool", "1.0", "amd64", "deb") { Depends = ["libc6 (>= 2.34)", "mawk | awk"], Provides = ["tool-api (= 1)"], Essential = true },
            new NativePackage("sneaky", "1.0", "all", "deb") { Depends = ["libc6\nStatus: deinstall ok config-files"], Conflicts = ["x (>> 1)\nPackage: evil"] },
            new NativePackage("nginx-light", "1.22.1-9", "all", "deb"),
        ], []);
        var repository = new Dictionary<(string, string, string), IReadOnlyList<KeyValuePair<string, string>>>
        {
            [("libcap2", "1:2.66-4+deb12u3+b1", "amd64")] = DebControl.Stanzas("""
                Package: libcap2
                Version: 1:2.66-4+deb12u3+b1
                Installed-Size: 68
                Maintainer: Christian Kastner <ckk@debian.org>
                Architecture: amd64
                Multi-Arch: same
                Depends: libc6 (>= 2.34)
                Description: POSIX 1003.1e capabilities (library)
                 Libcap implements the user-space interfaces.
                Filename: pool/main/libc/libcap2/libcap2_2.66-4+deb12u3+b1_amd64.deb
                SHA256: 8d684c673e7483802a5c447834b0df6fce006eb3a7109e1be412f5ad425bb24f
                """)[0],
        };

        var status = DebControl.Paragraphs(base_.StatusFile(repository, new HashSet<string>(["nginx-light"]))).ToDictionary(p => p["Package"]);

        Assert.Equal(["libcap2", "local-tool", "sneaky"], status.Keys.Order());
        var libcap = status["libcap2"];
        Assert.Equal(("install ok installed", "68", "same", "libc6 (>= 2.34)"), (libcap["Status"], libcap["Installed-Size"], libcap["Multi-Arch"], libcap["Depends"]));
        Assert.False(libcap.ContainsKey("Filename") || libcap.ContainsKey("SHA256") || libcap.ContainsKey("Description"));
        var tool = status["local-tool"];
        Assert.Equal(("1.0", "libc6 (>= 2.34), mawk | awk", "tool-api (= 1)", "yes"), (tool["Version"], tool["Depends"], tool["Provides"], tool["Essential"]));
        Assert.Equal(["Package", "Status", "Version", "Architecture"], status["sneaky"].Keys); // a relation with a line break adds nothing
    }

    [Fact]
    public void Host_sources_in_both_forms_give_the_debian_and_security_mirrors_and_fall_back_to_debs_redirector()
    {
        var entries = HostAptSources.ParseDeb822("""
            Types: deb
            # http://snapshot.debian.org/archive/debian/20250520T000000Z
            URIs: http://mirror.example/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

            Types: deb-src
            URIs: http://src.example/debian
            Suites: bookworm

            Types: deb
            URIs: http://mirror.example/debian-security
            Suites: bookworm-security
            Components: main
            """).Concat(HostAptSources.ParseOneLine("deb [arch=amd64 signed-by=/x.gpg] https://other.example/debian trixie main # comment\n# deb http://nope/debian bookworm main\n")).ToList();

        Assert.Equal(("http://mirror.example/debian", "http://mirror.example/debian-security"), HostAptSources.Mirrors(entries, "bookworm"));
        Assert.Equal(("https://other.example/debian", "http://mirror.example/debian-security"), HostAptSources.Mirrors(entries, "trixie"));
        Assert.Equal((HostAptSources.DefaultArchive, HostAptSources.DefaultSecurity), HostAptSources.Mirrors([new HostAptSources.Entry("cdrom:[Debian]/", ["bookworm"])], "bookworm"));
    }
}
