using System.Text;
using CsCheck;
using Rig.Protocol.Messages;

namespace Rig.Protocol.Tests.Properties;

/// <summary>Generators of valid contract messages (every field within what <see cref="ContractChecks"/> allows), and of
/// damaged bytes made from them, for the property tests.</summary>
internal static class MessageGen
{
    private const string Digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// <summary>Any character a real string holds (no lone surrogate: UTF-8 cannot carry one), biased towards the
    /// ones JSON escapes or that matter to Rig (quotes, backslash, control characters, '<', non-ASCII).</summary>
    public static readonly Gen<char> TextChar = Gen.Frequency(
        (6, Gen.Char['a', 'z']),
        (2, Gen.Char["\"\\/\b\f\n\r\t<>&'+`$;{}[]:,"]),
        (1, Gen.Char['\u0001', '\u001f']),
        (1, Gen.Char['\u007f', '\u00ff']),
        (1, Gen.Char['\u0100', '\ud7ff']),
        (1, Gen.Char['\ue000', '\uffff']));

    /// <summary>Strings of <paramref name="min"/> to <paramref name="max"/> characters from <paramref name="chars"/>.</summary>
    public static Gen<string> Str(Gen<char> chars, int min, int max) => chars.Array[min, max].Select(a => new string(a));

    /// <summary>Identifier text: bounded and without NUL, as <see cref="ContractChecks"/> wants it.</summary>
    public static Gen<string> Ident(int max) => Str(TextChar, 0, Math.Min(max, 24));

    /// <summary>Free text (output, errors): may hold NUL and surrogate pairs.</summary>
    public static readonly Gen<string> FreeText = Gen.Frequency(
        (8, Str(TextChar, 0, 40)),
        (1, Gen.Const("\0nul\0")),
        (1, Gen.Const("emoji \U0001F600 pair")));

    private static Gen<T?> OrNull<T>(Gen<T> gen) where T : class => Gen.Frequency((1, Gen.Const((T?)null)), (3, gen.Select(v => (T?)v)));

    private static Gen<int?> OrNull(Gen<int> gen) => Gen.Frequency((1, Gen.Const((int?)null)), (3, gen.Select(v => (int?)v)));

    public static readonly Gen<CommandResult> Result =
        Gen.Select(Ident(64), Gen.Enum<CommandOutcome>(), OrNull(FreeText), OrNull(Ident(64)), OrNull(FreeText), Gen.Long[0, long.MaxValue], Gen.Bool,
            (id, outcome, error, code, output, ms, journal) => new CommandResult
            {
                CommandId = id, Outcome = outcome, Error = error, ErrorCode = code, Output = output, DurationMs = ms, FromJournal = journal,
            });

    private static readonly Gen<string> Host = Gen.OneOf(
        Gen.Select(Gen.Byte, Gen.Byte, Gen.Byte, Gen.Byte, (a, b, c, d) => $"{a}.{b}.{c}.{d}"),
        Str(Gen.Char['a', 'z'], 1, 12).Select(label => label + ".example"),
        Gen.Const("fd00::1"));

    public static readonly Gen<InventoryReport> Inventory =
        Gen.Select(OrNull(Ident(253)), Gen.Select(Ident(40), Ident(40), (n, v) => new InstalledPackage(n, v, PackageFormats.RigArchive, Digest)).List[0, 3],
            Gen.Select(Ident(40), Gen.Bool, Gen.Bool, (n, r, e) => new ServiceState(n, r, e)).List[0, 2], Gen.Int[0, 1000], OrNull(Gen.Long[0, long.MaxValue].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (host, packages, services, boots, free) => new InventoryReport
            {
                Hostname = host, Packages = packages, Services = services, BootCount = boots,
                FreeBytes = free is null ? null : long.Parse(free, System.Globalization.CultureInfo.InvariantCulture),
                Hardware = boots % 2 == 0 ? null : new HardwareReport(boots, boots * 1024L, [new DiskReport("vda", boots, boots % 3 == 0 ? null : true)],
                    [new NicReport("eth0", "up", ["10.0.0.5/24"], "52:54:00:12:34:56")], "AMD EPYC"),
                Os = boots % 5 == 0 ? new OsReport("debian", null, "12", "Debian GNU/Linux 12") : null,
                NativePackages = boots % 7 == 0 ? [new NativePackage("hello", "2.10-3", "amd64", "deb")] : null,
            });

    public static readonly Gen<ExchangeRequest> ExchangeRequest =
        Gen.Select(Gen.Select(Gen.Int, Ident(63), Ident(64), Gen.Enum<InquiryReason>(), OrNull(Ident(64)), OrNull(Gen.Int[1, 65535]), OrNull(Host)),
            Gen.Select(OrNull(Result), OrNull(Result.List[0, 3].Select(l => (IReadOnlyList<CommandResult>)l)), OrNull(Gen.Int[1, 256]), OrNull(Ident(64)), OrNull(Inventory), Gen.Bool),
            (a, b) => new ExchangeRequest
            {
                ProtocolVersion = a.Item1, Device = a.Item2, RequestId = a.Item3, Reason = a.Item4, AgentVersion = a.Item5, PokePort = a.Item6, PokeHost = a.Item7,
                Result = b.Item1, Results = b.Item2, MaxCommands = b.Item3, Rebooted = b.Item4, Inventory = b.Item5, Inquire = b.Item6,
            });

    public static readonly Gen<EnrollRequest> EnrollRequest =
        Gen.Select(Gen.Int, Ident(256), Ident(63), Str(TextChar, 0, 200), OrNull(Ident(64)),
            (version, token, device, csr, agent) => new EnrollRequest { ProtocolVersion = version, Token = token, Device = device, CsrPem = csr, AgentVersion = agent });

    private static readonly Gen<NetworkCommand> Network = Gen.OneOf(
        Gen.Select(Gen.Int[0, 99], Gen.Int[NetworkRules.MinProbeSeconds, NetworkRules.MaxProbeSeconds], Gen.Bool,
            (n, probe, networkd) => new NetworkCommand($"eth{n}", NetworkMode.Dhcp, [], networkd ? NetworkRenderers.Networkd : NetworkRenderers.Ifupdown, probe)),
        Gen.Select(Gen.Byte, Gen.Int[0, 32], Gen.Int[NetworkRules.MinProbeSeconds, NetworkRules.MaxProbeSeconds], Gen.Bool,
            (b, prefix, probe, gateway) => new NetworkCommand("ens3", NetworkMode.Static, ["10.0.0.2", "fd00::53"], NetworkRenderers.Networkd, probe,
                $"10.1.{b}.5/{prefix}", gateway ? "10.1.0.1" : null)));

    public static readonly Gen<CommandSpec> Spec = Gen.OneOf<CommandSpec>(
        Gen.Select(Ident(40), Ident(40), Gen.Long[0, long.MaxValue], Ident(40), (n, v, size, role) => new InstallCommand(new PackageRef(n, v, PackageFormats.Deb, Digest, size), role)),
        Gen.Select(Ident(40), Ident(8), (n, f) => new RemoveCommand(n, f)),
        Gen.Select(Ident(60), FreeText, Ident(8), Ident(16), (path, content, mode, owner) => new WriteFileCommand(path, content, Digest, mode, owner, owner)),
        Ident(60).Select(path => new DeleteFileCommand(path)),
        Gen.Select(Ident(40), Gen.Enum<ServiceAction>(), (n, a) => new ServiceCommand(n, a)),
        FreeText.Select(reason => new RebootCommand(reason)),
        Gen.Const(new InventoryCommand()),
        Network);

    public static readonly Gen<Command> Command =
        Gen.Select(Ident(64), Ident(64), Gen.Int, Gen.Int, Spec,
            (id, queue, seq, length, spec) => new Command { Id = id, QueueId = queue, Sequence = seq, QueueLength = length, Spec = spec });

    public static readonly Gen<ExchangeResponse> ExchangeResponse =
        Gen.Select(Gen.Enum<ExchangeAnswer>(), OrNull(Command), OrNull(Command.List[0, 3].Select(l => (IReadOnlyList<Command>)l)),
            (answer, command, more) => new ExchangeResponse { Answer = answer, Command = command, More = more });

    /// <summary>Pieces of JSON and of Rig's vocabulary, concatenated at random: mostly invalid documents that
    /// get further into the reader than random bytes do.</summary>
    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", " ", "\n", "null", "true", "false", "0", "-1", "1e999", "-0.0", "2147483648", "9223372036854775808", "1.5",
        "\"\"", "\"x\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\ud83d\\ude00\"", "\"\\\"\"", "\"\\q\"", "\"\\u12\"",
        "\"protocolVersion\"", "\"device\"", "\"requestId\"", "\"reason\"", "\"result\"", "\"results\"", "\"commandId\"", "\"outcome\"",
        "\"Succeeded\"", "\"Failed\"", "\"Poke\"", "\"inventory\"", "\"packages\"", "\"hardware\"", "\"nics\"", "\"addresses\"",
        "\"maxCommands\"", "\"pokePort\"", "\"pokeHost\"", "\"inquire\"", "\"token\"", "\"csrPem\"", "\"answer\"", "\"Command\"", "\"NoCommand\"",
        "\"command\"", "\"more\"", "\"id\"", "\"queueId\"", "\"sequence\"", "\"spec\"", "\"kind\"", "\"install\"", "\"configure-network\"",
        "\"package\"", "\"dns\"", "\"mode\"", "\"Static\"", "\"name\"", "\"version\"", "\"files\"", "\"path\"", "\"sha256\"", "\"$type\"",
        "\"$id\"", "\"$ref\"", "\"collectedAt\"", "\"2024-02-30T00:00:00Z\"", "\"9999-12-31T23:59:59+14:00\"", "/*", "*/", "//", "\u00e9", "\uFEFF",
    ];

    public static readonly Gen<byte[]> TokenSoup = Gen.Int[0, Tokens.Length - 1].Array[0, 60]
        .Select(picks => Encoding.UTF8.GetBytes(string.Concat(picks.Select(i => Tokens[i]))));

    /// <summary><paramref name="valid"/> damaged in one of several ways: bytes overwritten, a range removed or
    /// repeated, truncated, or a token inserted.</summary>
    public static Gen<byte[]> Mutated(Gen<byte[]> valid) =>
        Gen.Select(valid, Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Byte.Array[1, 4], Gen.Int[0, Tokens.Length - 1],
            (bytes, how, p1, p2, some, token) => Mutate(bytes, how, p1, p2, some, Encoding.UTF8.GetBytes(Tokens[token])));

    private static byte[] Mutate(byte[] bytes, int how, int p1, int p2, byte[] some, byte[] token)
    {
        if (bytes.Length == 0)
            return some;
        var at = p1 % bytes.Length;
        var length = 1 + (p2 % Math.Min(16, bytes.Length - at));
        var copy = (byte[])bytes.Clone();
        switch (how)
        {
            case 0:
                for (var i = 0; i < some.Length && at + i < copy.Length; i++)
                    copy[at + i] = some[i];
                return copy;
            case 1:
                return [.. bytes[..at], .. bytes[(at + length)..]];
            case 2:
                return [.. bytes[..(at + length)], .. bytes[at..]];
            case 3:
                return bytes[..at];
            case 4:
                return [.. bytes[..at], .. token, .. bytes[at..]];
            default:
                copy[at] ^= (byte)(1 << (p2 % 8));
                return copy;
        }
    }
}
