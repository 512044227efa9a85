using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Rig.Protocol.Messages;

namespace Rig.Protocol.Tests;

/// <summary>CHECKLIST 1 and 2: the JSON contract. Messages round-trip; truncated, garbled, wrongly-typed,
/// duplicated, unknown or too deep input is refused by <see cref="RigJson.Parse"/> with a clear error.</summary>
public sealed class RigJsonTests
{
    private const string Digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static readonly string[] KindNames = ["install", "remove", "write-file", "delete-file", "service", "reboot", "inventory", "configure-network"];

    public static TheoryData<string> Kinds => new(KindNames);

    private static CommandSpec SpecOf(string kind) => kind switch
    {
        "install" => new InstallCommand(new PackageRef("nginx", "1:1.22.1-9", PackageFormats.Deb, Digest, 123_456), "web"),
        "remove" => new RemoveCommand("telnet", PackageFormats.Rpm),
        "write-file" => new WriteFileCommand("/etc/demo/demo.conf", "port={{ not evaluated }}\nname=\"x\"\n", Digest, "0640", "root", "demo"),
        "delete-file" => new DeleteFileCommand("/etc/demo/old.conf"),
        "service" => new ServiceCommand("demo.service", ServiceAction.Restart),
        "reboot" => new RebootCommand("kernel upgrade"),
        "inventory" => new InventoryCommand(),
        "configure-network" => new NetworkCommand("eth0", NetworkMode.Static, ["10.0.0.2"], NetworkRenderers.Networkd, 30, "10.0.0.5/24", "10.0.0.1"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no sample for this kind"),
    };

    private static ExchangeResponse ResponseWith(string kind) => new()
    {
        Answer = ExchangeAnswer.Command,
        Command = new Command { Id = "cmd-7f3a", QueueId = "queue-12", Sequence = 2, QueueLength = 5, Spec = SpecOf(kind) },
    };

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static ProtocolException AssertRefused<T>(string json, JsonTypeInfo<T> info, string mentions)
    {
        var e = Assert.Throws<ProtocolException>(() => RigJson.Parse(Utf8(json), info, "the test message"));
        Assert.Equal("bad-message", e.Code);
        Assert.StartsWith("the test message ", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Contains(mentions, StringComparison.Ordinal), $"Expected the message to name '{mentions}': {e.Message}");
        return e;
    }

    // ---- Round trips ---------------------------------------------------------------------------

    [Fact]
    public void Every_command_kind_of_the_contract_has_a_round_trip_case()
    {
        var onTheWire = typeof(CommandSpec).GetCustomAttributes<JsonDerivedTypeAttribute>().Select(a => (string)a.TypeDiscriminator!).Order();

        Assert.Equal(KindNames.Order(), onTheWire);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ExchangeResponse_with_a_command_of_each_kind_round_trips(string kind)
    {
        var response = ResponseWith(kind);

        var json = JsonSerializer.SerializeToUtf8Bytes(response, RigJson.Default.ExchangeResponse);
        var back = RigJson.Parse(json, RigJson.Default.ExchangeResponse, "response");

        Assert.Equal(response, back);
        Assert.IsType(SpecOf(kind).GetType(), back.Command!.Spec);
        Assert.Equal(kind, back.Command.Spec.Kind);
        Assert.Contains($"\"spec\":{{\"kind\":\"{kind}\"", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_command_of_each_kind_round_trips_on_its_own(string kind)
    {
        var command = ResponseWith(kind).Command!;

        var back = RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(command, RigJson.Default.Command), RigJson.Default.Command, "command");

        Assert.Equal(command, back);
    }

    [Fact]
    public void ExchangeRequest_with_a_result_and_an_inventory_round_trips()
    {
        var request = new ExchangeRequest
        {
            ProtocolVersion = ProtocolInfo.Version,
            Device = "web-01",
            RequestId = "req-1",
            Reason = InquiryReason.Continue,
            AgentVersion = "0.1.0",
            PokePort = 7443,
            PokeHost = "10.0.0.5",
            Rebooted = "cmd-1",
            Inquire = false,
            Result = new CommandResult
            {
                CommandId = "cmd-7f3a",
                Outcome = CommandOutcome.Failed,
                Error = "sha256 differs: expected a, got b",
                ErrorCode = "digest-mismatch",
                Output = "line 1\nline \"2\"\n",
                DurationMs = 1234,
                FromJournal = true,
                Inventory = new InventoryReport
                {
                    Hostname = "web-01",
                    Platform = "sandbox",
                    Packages = [new InstalledPackage("nginx", "1.22", "deb", Digest)],
                    Files = [new ManagedFile("/etc/demo.conf", Digest, "0644", "root", "root")],
                    Services = [new ServiceState("nginx.service", Running: true, Enabled: false)],
                    BootCount = 3,
                },
            },
        };

        var json = JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest);
        var back = RigJson.Parse(json, RigJson.Default.ExchangeRequest, "request");

        // Records holding lists compare the lists by reference: compare what goes on the wire instead.
        Assert.Equal(json, JsonSerializer.SerializeToUtf8Bytes(back, RigJson.Default.ExchangeRequest));
        Assert.Equal(request with { Result = null }, back with { Result = null });
        Assert.Equal(request.Result with { Inventory = null }, back.Result! with { Inventory = null });
        Assert.Equal(request.Result.Inventory.Packages, back.Result.Inventory!.Packages);
        Assert.Equal(request.Result.Inventory.Files, back.Result.Inventory.Files);
        Assert.Equal(request.Result.Inventory.Services, back.Result.Inventory.Services);
        Assert.Equal(3, back.Result.Inventory.BootCount);
    }

    [Fact]
    public void A_hand_written_message_in_the_documented_wire_format_is_read()
    {
        const string json = """
            {"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,
             "spec":{"kind":"write-file","path":"/etc/x","content":"a=1","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mode":"0644","owner":"root","group":"root"}}}
            """;

        var response = RigJson.Parse(Utf8(json), RigJson.Default.ExchangeResponse, "response");

        var spec = Assert.IsType<WriteFileCommand>(response.Command!.Spec);
        Assert.Equal("/etc/x", spec.Path);
        Assert.Equal("a=1", spec.Content);
        Assert.Equal(0, response.Command.QueueLength);
    }

    [Fact]
    public void Defaults_are_applied_when_optional_members_are_absent()
    {
        var request = RigJson.Parse(Utf8("""{"protocolVersion":1,"device":"web-01","requestId":"r"}"""), RigJson.Default.ExchangeRequest, "request");

        Assert.True(request.Inquire);
        Assert.Null(request.Result);
        Assert.Equal(InquiryReason.Poke, request.Reason);
    }

    [Fact]
    public void An_inventory_without_lists_has_empty_lists()
    {
        var inventory = RigJson.Parse("""{"hostname":"web-01"}"""u8, RigJson.Default.InventoryReport, "inventory");

        Assert.Empty(inventory.Packages);
        Assert.Empty(inventory.Files);
        Assert.Empty(inventory.Services);
    }

    [Fact]
    public void An_inventory_from_an_older_agent_has_unknown_hardware_os_and_native_packages()
    {
        var inventory = RigJson.Parse("""{"hostname":"web-01","packages":[{"name":"tool","version":"1","format":"rig","sha256":"ab"}]}"""u8, RigJson.Default.InventoryReport, "inventory");

        Assert.Null(inventory.Hardware);
        Assert.Null(inventory.Os);
        Assert.Null(inventory.NativePackages); // unknown, not "none": drift must not call every package missing
        Assert.Null(Assert.Single(inventory.Packages).Problem);
    }

    [Fact]
    public void An_exchange_request_with_a_full_inventory_round_trips()
    {
        var request = new ExchangeRequest
        {
            ProtocolVersion = 1, Device = "web-1", RequestId = "r1", Reason = InquiryReason.CheckIn,
            Inventory = new InventoryReport
            {
                AgentVersion = "0.1.0", CollectedAt = new DateTimeOffset(2026, 11, 25, 1, 0, 0, TimeSpan.Zero),
                Hardware = new HardwareReport(8, 16_000, [new DiskReport("sda", 100L << 30)], [new NicReport("eth0", "up", ["10.0.0.5/24"])]),
                Os = new OsReport("debian", null, "12", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "amd64"),
                NativePackages = [new NativePackage("bash", "5.2.15-2+b2", "amd64", "deb")],
            },
        };

        var back = RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest), RigJson.Default.ExchangeRequest, "request");

        Assert.Equal(request.Inventory.Os, back.Inventory!.Os);
        Assert.Equal(request.Inventory.NativePackages, back.Inventory.NativePackages);
        Assert.Equal(request.Inventory.Hardware.Disks, back.Inventory.Hardware!.Disks);
        Assert.Equal(request.Inventory.Hardware.Nics[0].Addresses, back.Inventory.Hardware.Nics[0].Addresses);
        Assert.Equal(request.Inventory.CollectedAt, back.Inventory.CollectedAt);
    }

    [Fact]
    public void An_inventory_beyond_its_bounds_does_not_refuse_the_exchange_but_is_found_bad_naming_the_list()
    {
        var packages = string.Join(",", Enumerable.Range(0, 20_001).Select(i => $$"""{"name":"p{{i}}","version":"1","architecture":"all","format":"deb"}"""));
        var json = "{\"protocolVersion\":1,\"device\":\"d\",\"requestId\":\"r\",\"result\":{\"commandId\":\"c1\",\"outcome\":\"Succeeded\",\"inventory\":{\"nativePackages\":[" + packages
            + "]}},\"inventory\":{\"os\":{\"id\":\"" + new string('x', 65) + "\"}}}";
        var request = RigJson.Parse(Encoding.UTF8.GetBytes(json), RigJson.Default.ExchangeRequest, "request");

        Assert.Equal("c1", request.Result!.CommandId);
        Assert.Equal("inventory.nativePackages holds 20001 items (limit 20000)", ContractChecks.InventoryProblem(request.Result.Inventory!));
        Assert.StartsWith("inventory.os.id is 65 characters long", ContractChecks.InventoryProblem(request.Inventory!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nginx\u001b[2J")]
    [InlineData("nginx\r\nfake line")]
    [InlineData("nginx\u009b31m")]
    public void Control_characters_in_inventory_names_are_found_bad(string name)
    {
        var inventory = new InventoryReport { Services = [new ServiceState(name, true, true)] };

        var problem = ContractChecks.InventoryProblem(inventory);

        Assert.NotNull(problem);
        Assert.Contains("inventory service name", problem, StringComparison.Ordinal);
        Assert.Contains("control character", problem, StringComparison.Ordinal);
        Assert.Equal(-1, ContractChecks.ControlCharacterAt(problem)); // the message itself prints safely
        Assert.Null(ContractChecks.InventoryProblem(new InventoryReport { Services = [new ServiceState("nginx", true, true)] }));
    }

    [Fact]
    public void Visible_replaces_every_control_character()
    {
        Assert.Equal("a\uFFFD[2Jb\uFFFD\uFFFDc\uFFFD", ContractChecks.Visible("a\u001b[2Jb\r\nc\u009b"));
        Assert.Equal("plain", ContractChecks.Visible("plain"));
    }

    [Fact]
    public void Trim_cuts_an_inventory_to_the_limits_and_says_what_was_left_out()
    {
        var nics = Enumerable.Range(0, 1_500).Select(i => new NicReport($"veth{i:0000}", "up", [])).ToList();
        var report = new InventoryReport
        {
            Hostname = "docker-1",
            Hardware = new HardwareReport(8, 16_000, [], nics),
            NativePackages = [.. Enumerable.Range(0, 25_000).Select(i => new NativePackage($"p{i}", "1", "all", "deb"))],
        };
        Assert.NotNull(ContractChecks.InventoryProblem(report));

        var trimmed = InventoryLimits.Trim(report);

        Assert.Null(ContractChecks.InventoryProblem(trimmed));
        Assert.Equal(InventoryLimits.MaxHardwareItems, trimmed.Hardware!.Nics.Count);
        Assert.Equal(InventoryLimits.MaxNativePackages, trimmed.NativePackages!.Count);
        Assert.Equal("nativePackages: 20000 of 25000; hardware.nics: 1024 of 1500", trimmed.Truncated);
        var whole = new InventoryReport { Hostname = "small" };
        Assert.Same(whole, InventoryLimits.Trim(whole));
    }

    [Fact]
    public void Trim_leaves_out_relations_the_gateway_would_refuse_and_those_beyond_the_byte_budget_never_shortening_a_list()
    {
        // 3,000 packages of ~600 bytes of relations each (~1.8 MB, '>' escaped on the wire): over the 1 MiB budget.
        var depends = Enumerable.Range(0, 20).Select(i => $"libdep{i} (>= 1.{i})").ToList();
        var native = Enumerable.Range(0, 3_000).Select(i => new NativePackage($"p{i:0000}", "1", "amd64", "deb") { Depends = depends, Provides = [$"v{i}"], Conflicts = [] }).ToList();
        native[5] = native[5] with { Provides = [.. Enumerable.Range(0, InventoryLimits.MaxRelations + 1).Select(i => $"x{i}")] };
        native[6] = native[6] with { Conflicts = ["bad\u001b[2J"], Essential = true };
        var report = new InventoryReport { NativePackages = native };
        Assert.NotNull(ContractChecks.InventoryProblem(report));

        var trimmed = InventoryLimits.Trim(report);

        Assert.Null(ContractChecks.InventoryProblem(trimmed));
        var packages = trimmed.NativePackages!;
        Assert.Equal(3_000, packages.Count); // every package stays
        Assert.Null(packages[5].Provides);
        Assert.Equal(depends, packages[5].Depends); // only the unusable list goes
        Assert.Null(packages[6].Conflicts);
        Assert.True(packages[6].Essential);
        var kept = packages.Where(p => p.Depends is not null).ToList();
        Assert.All(kept, p => Assert.Equal(depends, p.Depends)); // whole or not at all
        Assert.All(packages.Where(p => p.Depends is null), p => Assert.True(p.Provides is null && p.Conflicts is null));
        int Json(IEnumerable<NativePackage> list) => JsonSerializer.SerializeToUtf8Bytes(new InventoryReport { NativePackages = [.. list] }, RigJson.Default.InventoryReport).Length;
        var bytes = Json(packages) - Json(packages.Select(p => p with { Depends = null, Provides = null, Conflicts = null }));
        Assert.InRange(bytes, InventoryLimits.MaxRelationBytes * 8 / 10, InventoryLimits.MaxRelationBytes);
        Assert.Contains("relations: left out for", trimmed.Truncated, StringComparison.Ordinal);
        Assert.Contains("over 4096 entries or with unusable entries left out for 2 packages", trimmed.Truncated, StringComparison.Ordinal);
        var json = JsonSerializer.SerializeToUtf8Bytes(new ExchangeRequest { ProtocolVersion = 1, Device = "d", RequestId = "r", Inventory = trimmed }, RigJson.Default.ExchangeRequest);
        Assert.True(json.Length < RigLimits.Default.MaxRequestBodyBytes / 2, $"{json.Length} bytes");
        var whole = new InventoryReport { NativePackages = [new NativePackage("a", "1", "all", "deb") { Depends = ["b (>= 1)"], Provides = [], Conflicts = [] }] };
        Assert.Same(whole, InventoryLimits.Trim(whole));
    }

    [Fact]
    public void Native_packages_are_equal_when_their_relations_are_read_back_from_json()
    {
        var package = new NativePackage("libc6", "2.36-9", "amd64", "deb") { Depends = ["libgcc-s1"], Provides = [], Conflicts = ["nscd (<< 2.36)"], Essential = false };
        var report = new InventoryReport { NativePackages = [package] };

        var back = RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(report, RigJson.Default.InventoryReport), RigJson.Default.InventoryReport, "inventory");

        Assert.Equal(package, Assert.Single(back.NativePackages!));
        Assert.Equal(package.GetHashCode(), back.NativePackages![0].GetHashCode());
        Assert.NotEqual(package, package with { Conflicts = ["nscd (<< 2.37)"] });
        Assert.NotEqual(package, package with { Provides = null });
        Assert.NotEqual(package, package with { Essential = true });
        var json = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new InventoryReport { NativePackages = [package, package with { Name = "dpkg", Essential = true }] }, RigJson.Default.InventoryReport));
        Assert.Contains("""{"name":"libc6","version":"2.36-9","architecture":"amd64","format":"deb","depends":["libgcc-s1"],"provides":[],"conflicts":["nscd (\u003C\u003C 2.36)"]}""", json, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"dpkg\"", json, StringComparison.Ordinal);
        Assert.Contains("\"essential\":true", json, StringComparison.Ordinal); // false is left out, true is not
        Assert.True(RigJson.Parse(Encoding.UTF8.GetBytes(json), RigJson.Default.InventoryReport, "inventory").NativePackages![1].Essential);
    }

    [Fact]
    public void Null_members_are_left_out_of_the_wire_format()
    {
        var json = Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(new ExchangeResponse { Answer = ExchangeAnswer.NoCommand }, RigJson.Default.ExchangeResponse));

        Assert.Equal("""{"answer":"NoCommand"}""", json);
    }

    // ---- Refusals --------------------------------------------------------------------------------

    [Fact]
    public void Duplicate_keys_are_refused()
    {
        AssertRefused("""{"answer":"NoCommand","answer":"Command"}""", RigJson.Default.ExchangeResponse, "answer");
    }

    [Fact]
    public void Duplicate_keys_inside_a_command_are_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"delete-file","path":"/tmp/a","path":"/etc/passwd"}}}""",
            RigJson.Default.ExchangeResponse, "path");
    }

    [Fact]
    public void A_duplicate_command_kind_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"inventory","kind":"reboot","reason":"x"}}}""",
            RigJson.Default.ExchangeResponse, "kind");
    }

    [Fact]
    public void A_key_differing_only_in_case_is_an_unknown_member_and_refused()
    {
        // Matching is case-sensitive, so "Answer" is not "answer": it is an unknown member, refused as such.
        AssertRefused("""{"answer":"NoCommand","Answer":"Command"}""", RigJson.Default.ExchangeResponse, "Answer");
    }

    [Fact]
    public void An_unknown_property_is_refused()
    {
        AssertRefused("""{"answer":"NoCommand","shell":"rm -rf /"}""", RigJson.Default.ExchangeResponse, "shell");
    }

    [Fact]
    public void An_unknown_property_inside_a_command_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"reboot","reason":"x","force":true}}}""",
            RigJson.Default.ExchangeResponse, "force");
    }

    [Fact]
    public void An_unknown_command_kind_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"run-shell","script":"id"}}}""",
            RigJson.Default.ExchangeResponse, "spec");
    }

    [Fact]
    public void A_command_without_a_kind_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"reason":"x"}}}""",
            RigJson.Default.ExchangeResponse, "spec");
    }

    [Theory]
    [InlineData("""{"answer":"NoCommand","command":"cmd-1"}""", "command")]
    [InlineData("""{"answer":"NoCommand","command":[]}""", "command")]
    [InlineData("""{"answer":true}""", "answer")]
    [InlineData("""{"answer":"Bogus"}""", "answer")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":"0","spec":{"kind":"inventory"}}}""", "sequence")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":1.5,"spec":{"kind":"inventory"}}}""", "sequence")]
    [InlineData("""{"answer":"Command","command":{"id":7,"queueId":"q1","sequence":0,"spec":{"kind":"inventory"}}}""", "id")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"service","name":"x","action":"Explode"}}}""", "action")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"install","package":{"name":"x","version":"1","format":"deb","sha256":"a","size":"big"},"role":"r"}}}""", "size")]
    public void A_wrongly_typed_value_is_refused(string json, string mentions)
    {
        AssertRefused(json, RigJson.Default.ExchangeResponse, mentions);
    }

    [Theory]
    [InlineData("""{"answer":1}""", "answer")]
    [InlineData("""{"answer":"1"}""", "answer")]
    [InlineData("""{"answer":99}""", "answer")]
    public void An_enum_given_as_a_number_is_refused(string json, string mentions)
    {
        AssertRefused(json, RigJson.Default.ExchangeResponse, mentions);
    }

    [Fact]
    public void A_result_with_an_outcome_given_as_a_number_is_refused()
    {
        AssertRefused("""{"commandId":"c1","outcome":7}""", RigJson.Default.CommandResult, "outcome");
    }

    [Fact]
    public void A_missing_required_member_is_refused()
    {
        AssertRefused("""{"protocolVersion":1,"requestId":"r"}""", RigJson.Default.ExchangeRequest, "device");
    }

    [Fact]
    public void A_missing_constructor_parameter_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"reboot"}}}""",
            RigJson.Default.ExchangeResponse, "reason");
    }

    [Fact]
    public void Null_for_a_required_string_of_a_request_is_refused()
    {
        AssertRefused("""{"protocolVersion":1,"device":null,"requestId":"r"}""", RigJson.Default.ExchangeRequest, "device");
    }

    [Theory]
    [InlineData("""{"answer":"Command","command":{"id":null,"queueId":"q1","sequence":0,"spec":{"kind":"inventory"}}}""", "id")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"delete-file","path":null}}}""", "path")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":null}}""", "spec")]
    public void Null_for_a_member_of_a_command_that_may_not_be_null_is_refused(string json, string mentions)
    {
        AssertRefused(json, RigJson.Default.ExchangeResponse, mentions);
    }

    [Theory]
    [InlineData("""{"protocolVersion":1,"device":"d","requestId":"r","maxCommands":0}""", "maxCommands 0")]
    [InlineData("""{"protocolVersion":1,"device":"d","requestId":"r","maxCommands":257}""", "maxCommands 257")]
    [InlineData("""{"protocolVersion":1,"device":"d","requestId":"r","results":[null]}""", "results")]
    [InlineData("""{"protocolVersion":1,"device":"d","requestId":"r","results":[{"commandId":null,"outcome":"Succeeded"}]}""", "commandId")]
    [InlineData("""{"protocolVersion":1,"device":"d","requestId":"r","result":{"commandId":"c\u0000","outcome":"Succeeded"}}""", "NUL")]
    public void A_batched_request_that_breaks_the_contract_is_refused(string json, string mentions)
    {
        AssertRefused(json, RigJson.Default.ExchangeRequest, mentions);
    }

    [Theory]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"inventory"}},"more":[null]}""", "null")]
    [InlineData("""{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"inventory"}},"more":[{"id":"c2","queueId":"q1","sequence":1,"spec":null}]}""", "spec")]
    public void A_batched_answer_that_breaks_the_contract_is_refused(string json, string mentions)
    {
        AssertRefused(json, RigJson.Default.ExchangeResponse, mentions);
    }

    [Fact]
    public void Free_text_with_a_nul_character_is_accepted()
    {
        var request = RigJson.Parse("""{"protocolVersion":1,"device":"d","requestId":"r","result":{"commandId":"c","outcome":"Failed","error":"bad\u0000byte","output":"\u0000"}}"""u8, RigJson.Default.ExchangeRequest, "request");
        Assert.Equal("bad\0byte", request.Result!.Error);
    }

    [Fact]
    public void A_batched_answer_round_trips()
    {
        var response = new ExchangeResponse
        {
            Answer = ExchangeAnswer.Command,
            Command = new Command { Id = "c1", QueueId = "q1", Sequence = 0, QueueLength = 2, Spec = new InventoryCommand() },
            More = [new Command { Id = "c2", QueueId = "q1", Sequence = 1, QueueLength = 2, Spec = new InventoryCommand() }],
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(response, RigJson.Default.ExchangeResponse);
        var back = RigJson.Parse(json, RigJson.Default.ExchangeResponse, "response");
        Assert.Equal("c2", Assert.Single(back.More!).Id);
        Assert.Equal(json, JsonSerializer.SerializeToUtf8Bytes(back, RigJson.Default.ExchangeResponse));
    }

    [Fact]
    public void A_truncated_message_is_refused()
    {
        AssertRefused("""{"answer":"Command","command":{"id":"c1","que""", RigJson.Default.ExchangeResponse, "is not valid");
    }

    [Fact]
    public void Every_truncation_of_a_valid_message_is_refused()
    {
        var whole = JsonSerializer.SerializeToUtf8Bytes(ResponseWith("install"), RigJson.Default.ExchangeResponse);

        for (var cut = 0; cut < whole.Length; cut++)
        {
            var e = Assert.Throws<ProtocolException>(() => RigJson.Parse(whole.AsSpan(0, cut), RigJson.Default.ExchangeResponse, "response"));
            Assert.Equal("bad-message", e.Code);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("not json")]
    [InlineData("{answer:NoCommand}")]
    [InlineData("{'answer':'NoCommand'}")]
    [InlineData("""{"answer":"NoCommand",}""")]
    [InlineData("""{"answer":"NoCommand"} {"answer":"Command"}""")]
    [InlineData("[]")]
    [InlineData("\"NoCommand\"")]
    public void Garbled_input_is_refused(string json)
    {
        var e = AssertRefused(json, RigJson.Default.ExchangeResponse, "is not valid");
        Assert.IsType<JsonException>(e.InnerException, exactMatch: false);
    }

    [Fact]
    public void Invalid_utf8_is_refused()
    {
        byte[] json = [.. Utf8("""{"answer":"NoCommand","command":{"id":"""), 0x22, 0xC3, 0x28, 0x22, .. Utf8("}}")];

        var e = Assert.Throws<ProtocolException>(() => RigJson.Parse(json, RigJson.Default.ExchangeResponse, "response"));

        Assert.Equal("bad-message", e.Code);
    }

    [Fact]
    public void Json_null_is_refused()
    {
        AssertRefused("null", RigJson.Default.ExchangeResponse, "JSON null");
        AssertRefused(" null ", RigJson.Default.ExchangeRequest, "JSON null");
    }

    [Theory]
    [InlineData(33)]
    [InlineData(64)]
    [InlineData(100_000)]
    public void A_deeply_nested_message_is_refused(int depth)
    {
        // No contract type nests anywhere near this deep, so the first bracket that does not fit the type ends
        // the parse: a deep document is refused early and never recursed into, however deep it is.
        var deep = new string('[', depth) + new string(']', depth);
        var json = """{"answer":"Command","command":{"id":"c1","queueId":"q1","sequence":0,"spec":{"kind":"reboot","reason":""" + deep + "}}}";

        AssertRefused(json, RigJson.Default.ExchangeResponse, "reason");
    }

    [Fact]
    public void The_contract_options_refuse_the_33rd_level_of_nesting_and_accept_the_32nd()
    {
        // A value type that can hold any nesting, read with the contract's own options, shows the limit itself.
        var anyJson = JsonMetadataServices.CreateValueInfo<JsonElement>(RigJson.Default.Options, JsonMetadataServices.JsonElementConverter);
        static byte[] Nested(int depth) => Utf8(new string('[', depth) + new string(']', depth));

        Assert.Equal(JsonValueKind.Array, RigJson.Parse(Nested(32), anyJson, "the test message").ValueKind);
        AssertRefusedBytes(Nested(33), anyJson, "depth of 32");
    }

    private static void AssertRefusedBytes<T>(byte[] utf8, JsonTypeInfo<T> info, string mentions)
    {
        var e = Assert.Throws<ProtocolException>(() => RigJson.Parse(utf8, info, "the test message"));
        Assert.Equal("bad-message", e.Code);
        Assert.True(e.Message.Contains(mentions, StringComparison.Ordinal), $"Expected the message to name '{mentions}': {e.Message}");
    }

    [Fact]
    public void The_depth_limit_of_the_contract_is_the_one_in_RigLimits()
    {
        Assert.Equal(RigLimits.Default.MaxJsonDepth, RigJson.Default.Options.MaxDepth);
    }

    [Fact]
    public void Parse_refuses_a_missing_type_info()
    {
        Assert.Throws<ArgumentNullException>(() => RigJson.Parse<ExchangeResponse>("{}"u8, null!, "x"));
    }

    [Fact]
    public void Command_descriptions_name_what_they_do()
    {
        Assert.Equal("install nginx 1:1.22.1-9", SpecOf("install").Describe());
        Assert.Equal("remove telnet", SpecOf("remove").Describe());
        Assert.Equal("write /etc/demo/demo.conf", SpecOf("write-file").Describe());
        Assert.Equal("delete /etc/demo/old.conf", SpecOf("delete-file").Describe());
        Assert.Equal("service demo.service restart", SpecOf("service").Describe());
        Assert.Equal("reboot (kernel upgrade)", SpecOf("reboot").Describe());
        Assert.Equal("inventory", SpecOf("inventory").Describe());
    }

    [Theory]
    [InlineData("rig", true)]
    [InlineData("deb", true)]
    [InlineData("rpm", true)]
    [InlineData("apk", false)]
    [InlineData("DEB", false)]
    [InlineData(null, false)]
    public void Only_known_package_formats_are_known(string? format, bool known) => Assert.Equal(known, PackageFormats.IsKnown(format));

    [Fact]
    public void Enrollment_messages_round_trip()
    {
        var request = new EnrollRequest { ProtocolVersion = 1, Token = "tok", Device = "web-01", CsrPem = "-----BEGIN CERTIFICATE REQUEST-----\n...", AgentVersion = "0.1.0" };
        var response = new EnrollResponse { Device = "web-01", CertificatePem = "cert", CaCertificatePem = "ca" };
        var error = new ErrorResponse("queue-busy", "Another rollout holds the queue.", Retryable: true);

        Assert.Equal(request, RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.EnrollRequest), RigJson.Default.EnrollRequest, "enroll"));
        Assert.Equal(response, RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(response, RigJson.Default.EnrollResponse), RigJson.Default.EnrollResponse, "enroll"));
        Assert.Equal(error, RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(error, RigJson.Default.ErrorResponse), RigJson.Default.ErrorResponse, "error"));
    }

    [Fact]
    public void AllResults_lists_result_then_results_in_order_and_is_not_on_the_wire()
    {
        static CommandResult Done(string id) => new() { CommandId = id, Outcome = CommandOutcome.Succeeded };
        var request = new ExchangeRequest
        {
            ProtocolVersion = ProtocolInfo.Version, Device = "web-1", RequestId = "r1", Reason = InquiryReason.Continue,
            Result = Done("a"), Results = [Done("b"), Done("c")],
        };

        Assert.Equal(["a", "b", "c"], request.AllResults.Select(r => r.CommandId).ToArray());
        Assert.Empty((request with { Result = null, Results = null }).AllResults);
        Assert.DoesNotContain("allResults", Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest)), StringComparison.OrdinalIgnoreCase);
    }
}
