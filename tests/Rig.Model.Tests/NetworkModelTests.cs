using Rig.Model.Domain;
using Rig.Model.Files;
using Rig.Model.Planning;
using Rig.Model.Validation;
using Rig.Protocol.Messages;

namespace Rig.Model.Tests;

/// <summary>The opt-in per-device <c>network</c> section: model files, validation, desired state and planning.</summary>
public class NetworkModelTests
{
    private const string Model = """
        sites: [{name: shop}]
        devices:
          - name: web-1
            site: shop
            hardware:
              nics:
                - {name: eth0, mac: "52:54:00:00:00:11", address: 192.168.9.9}
            network:
              renderer: ifupdown
              probeTimeoutSeconds: 20
              interfaces:
                - {name: eth0, address: 10.0.0.5/24, gateway: 10.0.0.1, dns: [10.0.0.2, 10.0.0.3]}
                - {name: eth1, dhcp: true}
          - name: web-2
            site: shop
            hardware:
              nics:
                - {name: eth0, mac: "52:54:00:00:00:12", address: 10.0.0.12}
        """;

    private static RigModel Read(string text)
    {
        var result = ModelFiles.Read([new ModelSourceFile("site.yaml", text)]);
        Assert.True(result.Model is not null, string.Join("\n", result.Errors));
        return result.Model!;
    }

    private static string[] Steps(DevicePlan plan)
    {
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        return [.. plan.Commands.Select(c => c.Spec.Describe())];
    }

    private static DevicePlan Plan(RigModel model, string device, RecordedState recorded)
    {
        var index = new ModelIndex(model);
        return Planner.Plan(new DesiredStateBuilder(index).Build(device), recorded, index.KindOrder);
    }

    [Fact]
    public void Network_section_is_read_from_model_files_and_written_back_unchanged()
    {
        var model = Read(Model);

        var network = model.Devices[0].Network!;
        Assert.Equal("ifupdown", network.Renderer);
        Assert.Equal(20, network.ProbeTimeoutSeconds);
        Assert.Equal(new NetworkInterfaceConfig { Name = "eth0", Address = "10.0.0.5/24", Gateway = "10.0.0.1", Dns = network.Interfaces[0].Dns }, network.Interfaces[0]);
        Assert.Equal(["10.0.0.2", "10.0.0.3"], network.Interfaces[0].Dns);
        Assert.True(network.Interfaces[1].Dhcp);
        Assert.Null(model.Devices[1].Network);
        Assert.Empty(ModelValidator.Validate(model));

        var again = Read(ModelFiles.Write(model).Single(f => f.Text.Contains("web-1", StringComparison.Ordinal)).Text);
        var back = again.Devices[0].Network!;
        Assert.Equal(network.Renderer, back.Renderer);
        Assert.Equal(network.ProbeTimeoutSeconds, back.ProbeTimeoutSeconds);
        Assert.Equal(network.Interfaces.Count, back.Interfaces.Count);
        Assert.Equal(network.Interfaces[0].Dns, back.Interfaces[0].Dns);
        Assert.Equal(network.Interfaces[1] with { Dns = back.Interfaces[1].Dns }, back.Interfaces[1]);
    }

    [Fact]
    public void Nic_addresses_stay_facts_a_device_without_a_network_section_gets_no_network_command()
    {
        var model = Read(Model);

        Assert.Empty(Plan(model, "web-2", RecordedState.Empty).Commands);
    }

    [Fact]
    public void Network_is_planned_first_one_command_per_interface_and_a_second_plan_is_empty()
    {
        var model = Read(Model);

        var plan = Plan(model, "web-1", RecordedState.Empty);
        Assert.Equal(["network eth0 10.0.0.5/24", "network eth1 dhcp", "inventory"], Steps(plan));
        var eth0 = Assert.IsType<NetworkCommand>(plan.Commands[0].Spec);
        Assert.Equal(new NetworkCommand("eth0", NetworkMode.Static, eth0.Dns, "ifupdown", 20, "10.0.0.5/24", "10.0.0.1"), eth0);

        var recorded = RecordedState.Empty;
        foreach (var command in plan.Commands)
            recorded = RecordedStateUpdater.Apply(recorded, command.Spec, null, new CommandResult { CommandId = "c", Outcome = CommandOutcome.Succeeded });
        Assert.Empty(Plan(model, "web-1", recorded).Commands);

        // An inventory does not report the network: what the commands applied stays recorded.
        var afterInventory = RecordedStateUpdater.FromInventory(recorded, new InventoryReport { Hostname = "web-1", Platform = "linux" });
        Assert.Empty(Plan(model, "web-1", afterInventory).Commands);
    }

    [Fact]
    public void Changed_dns_reconfigures_only_that_interface_and_a_rolled_back_change_is_planned_again()
    {
        var model = Read(Model);
        var recorded = RecordedState.Empty;
        foreach (var command in Plan(model, "web-1", RecordedState.Empty).Commands)
            recorded = RecordedStateUpdater.Apply(recorded, command.Spec, null, new CommandResult { CommandId = "c", Outcome = CommandOutcome.Succeeded });

        var changed = Read(Model.Replace("dns: [10.0.0.2, 10.0.0.3]", "dns: [10.0.0.2]", StringComparison.Ordinal));
        var plan = Plan(changed, "web-1", recorded);
        Assert.Equal(["network eth0 10.0.0.5/24", "inventory"], Steps(plan));
        Assert.Equal("network configuration changed", plan.Commands[0].Reason);

        var failed = RecordedStateUpdater.Apply(recorded, plan.Commands[0].Spec, null,
            new CommandResult { CommandId = "c", Outcome = CommandOutcome.Failed, ErrorCode = "network-rolled-back", Error = "rolled back" });
        Assert.Equal(["network eth0 10.0.0.5/24", "inventory"], Steps(Plan(changed, "web-1", failed)));
    }

    [Theory]
    [InlineData("renderer: netplan", "network.renderer-invalid", "netplan")]
    [InlineData("probeTimeoutSeconds: 2", "network.probe-timeout-invalid", "5-300")]
    [InlineData("{name: eth0, address: 10.0.0.5, gateway: 10.0.0.1}", "network.address-invalid", "10.0.0.5")]
    [InlineData("{name: eth0, address: 10.0.0.300/24}", "network.address-invalid", "10.0.0.300/24")]
    [InlineData("{name: eth0, address: 10.0.0.5/33}", "network.address-invalid", "10.0.0.5/33")]
    [InlineData("{name: eth0, address: 10.0.0.5/24, gateway: fd00::1}", "network.gateway-invalid", "same IP version")]
    [InlineData("{name: eth0, address: 10.0.0.5/24, gateway: gw.local}", "network.gateway-invalid", "gw.local")]
    [InlineData("{name: eth0, dhcp: true, address: 10.0.0.5/24}", "network.dhcp-conflict", "dhcp: true")]
    [InlineData("{name: eth0}", "network.address-missing", "CIDR")]
    [InlineData("{name: eth0, address: 10.0.0.5/24, dns: [10.0.0.2, nameserver]}", "network.dns-invalid", "nameserver")]
    [InlineData("{name: \"eth0;reboot\", dhcp: true}", "network.interface-invalid", "eth0;reboot")]
    [InlineData("{name: a-very-long-interface-name, dhcp: true}", "network.interface-invalid", "1-15 characters")]
    public void Invalid_network_values_are_reported_at_their_line(string line, string code, string mentioned)
    {
        var text = """
            sites: [{name: shop}]
            devices:
              - name: web-1
                site: shop
                network:
                  interfaces:
                    - {name: eth1, dhcp: true}
                  LINE
            """;
        // A network-level key (renderer, probeTimeoutSeconds) goes before `interfaces:` (line 6); an interface
        // goes into the list (line 8).
        text = line.StartsWith('{')
            ? text.Replace("      LINE", $"        - {line}", StringComparison.Ordinal)
            : text.Replace("      interfaces:", $"      {line}\n      interfaces:", StringComparison.Ordinal).Replace("      LINE\n", "", StringComparison.Ordinal).Replace("      LINE", "", StringComparison.Ordinal);
        var read = ModelFiles.Read([new ModelSourceFile("site.yaml", text)]);
        Assert.True(read.Model is not null, string.Join("\n", read.Errors));

        var error = Assert.Single(ModelFiles.Locate(ModelValidator.Validate(read.Model!), read.Map));

        Assert.Equal(code, error.Code);
        Assert.Contains(mentioned, error.Message, StringComparison.Ordinal);
        Assert.Equal("site.yaml", error.Location.File);
        Assert.Equal(line.StartsWith('{') ? 8 : 6, error.Location.Line);
    }

    [Fact]
    public void Unknown_key_in_an_interface_is_a_file_error_with_a_suggestion()
    {
        var result = ModelFiles.Read([new ModelSourceFile("site.yaml", """
            sites: [{name: shop}]
            devices:
              - name: web-1
                site: shop
                network:
                  interfaces:
                    - {name: eth0, adress: 10.0.0.5/24}
            """)]);

        Assert.Null(result.Model);
        var error = Assert.Single(result.Errors);
        Assert.Equal(7, error.Location.Line);
        Assert.Contains("address", error.Message, StringComparison.Ordinal);
    }
}
