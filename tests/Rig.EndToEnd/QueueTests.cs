using System.Text.Json;
using Microsoft.Data.Sqlite;
using Rig.Cli.Demo;
using Rig.EndToEnd.Harness;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Store;

namespace Rig.EndToEnd;

/// <summary>The whole loop through real processes: a gateway process, agent processes, real mTLS, SQLite.</summary>
public sealed class QueueTests
{
    [Fact]
    public async Task Full_queue_runs_every_command_once_and_the_device_matches_the_model()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        var model = Models.Site(["lb-1", "web-1"]);
        await site.SaveModelAsync(model);
        await site.StartAgentAsync("lb-1");
        await site.StartAgentAsync("web-1");

        var converge = await site.ConvergeAsync();
        Assert.All(converge.Devices, d => Assert.Equal("queued", d.Outcome));
        Assert.All(converge.Devices, d => Assert.True(d.Poked, $"{d.Device} was not poked"));

        foreach (var device in new[] { "lb-1", "web-1" })
        {
            var detail = await site.WaitForQueueAsync(device);
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status);
            Assert.All(detail.Commands, c => Assert.Equal(CommandStates.Succeeded, c.Status));
            Assert.All(detail.Commands, c => Assert.Equal(1, c.Deliveries));

            // Exactly once: every command began once and ended once in the agent's journal.
            var begins = site.Journal(device, "begin").Select(e => e.GetProperty("id").GetString()).ToList();
            Assert.Equal(detail.Commands.Select(c => c.Id).Order(), begins.Order());

            // The device's root is what the model says, file by file.
            var central = JsonSerializer.Deserialize((await site.Api.GetAsync<JsonElement>("api/v1/model")).GetRawText(), ModelJson.Default.RigModel)!;
            var desired = new DesiredStateBuilder(new ModelIndex(central)).Build(device);
            using var archive = File.OpenRead(Path.Combine(dir.Path, "packages", "tool_1.0.0.rig.tar.gz"));
            var manifests = new Dictionary<string, Protocol.Archives.RigArchiveManifest> { ["tool@1.0.0"] = Protocol.Archives.RigArchive.Inspect(archive, Protocol.RigLimits.Default).Manifest };
            Assert.Empty(DemoVerifier.Verify(desired, site.Root(device), manifests));
            // The gateway's recorded state (from results and the closing inventory) is the device's real state.
            Assert.Equal(["tool"], detail.Recorded.Packages.Keys);
            Assert.Equal(["/etc/base/f000.conf", "/etc/base/f001.conf", "/etc/tool/tool.conf"], detail.Recorded.Files.Keys.Order());
            Assert.True(detail.Recorded.Services["tool"] is { Running: true, Enabled: true });
        }
        var lbConfig = File.ReadAllText(Path.Combine(site.Root("lb-1"), "etc", "tool", "tool.conf"));
        Assert.Contains("peer web-1 10.9.0.11", lbConfig, StringComparison.Ordinal);

        // A second converge finds nothing to do: unchanged items are skipped.
        var again = await site.ConvergeAsync();
        Assert.All(again.Devices, d => Assert.Equal("unchanged", d.Outcome));
    }

    [Fact]
    public async Task Reboot_mid_queue_resumes_at_the_next_command()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"], osFiles: 3, reboot: true));
        var agent = await site.StartAgentAsync("web-1");

        await site.ConvergeAsync("web-1");
        var detail = await site.WaitForQueueAsync("web-1");

        Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status);
        Assert.Equal(1, agent.Reboots);
        var reboot = detail.Commands.Single(c => c.Kind == "reboot");
        Assert.Equal(3, reboot.Sequence); // after the three os files, before the app role
        Assert.True(detail.Commands.Count > reboot.Sequence + 1, "the reboot must be mid-queue");
        Assert.All(detail.Commands, c => Assert.Equal(CommandStates.Succeeded, c.Status));

        // Journal order: reboot accepted -> device came back -> the NEXT command ran; nothing before it ran again.
        var journal = site.Journal("web-1");
        var events = journal.Select(e => (Id: e.GetProperty("id").GetString(), Event: e.GetProperty("event").GetString())).ToList();
        var rebootEnd = events.FindIndex(e => e.Id == reboot.Id && e.Event == "end");
        var rebooted = events.FindIndex(e => e.Id == reboot.Id && e.Event == "rebooted");
        var next = detail.Commands.Single(c => c.Sequence == reboot.Sequence + 1);
        var nextBegin = events.FindIndex(e => e.Id == next.Id && e.Event == "begin");
        Assert.True(rebootEnd >= 0 && rebooted > rebootEnd && nextBegin > rebooted, string.Join("\n", events));
        Assert.Equal(detail.Commands.Count, events.Count(e => e.Event == "begin"));
        Assert.Equal(1, detail.Inventory!.BootCount);
    }

    [Fact]
    public async Task Gateway_killed_mid_queue_restarts_and_the_queue_completes_with_every_command_run_once()
    {
        using var dir = new TempDirectory();
        var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using (gateway)
        {
            await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
            await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
            await site.SaveModelAsync(Models.Site(["web-1"], osFiles: 150));
            await site.StartAgentAsync("web-1", batch: 1); // one command per exchange, so the kill lands mid-queue
            var converge = await site.ConvergeAsync("web-1");
            var total = converge.Devices.Single().Commands;

            await TestSite.WaitUntilAsync(() => Task.FromResult(site.Journal("web-1", "end").Count >= 15), TimeSpan.FromSeconds(60), "15 commands to finish");
            await gateway.KillAsync();
            var doneAtKill = site.Journal("web-1", "end").Count;
            Assert.True(doneAtKill < total, $"the kill must land mid-queue ({doneAtKill} of {total} done)");
            await Task.Delay(1000); // the agent retries with backoff against a dead gateway
            await gateway.StartAsync();

            var detail = await site.WaitForQueueAsync("web-1");
            Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status);
            Assert.Equal(total, detail.Commands.Count);
            Assert.All(detail.Commands, c => Assert.Equal(CommandStates.Succeeded, c.Status));
            var begins = site.Journal("web-1", "begin").Select(e => e.GetProperty("id").GetString()).ToList();
            Assert.Equal(begins.Count, begins.Distinct().Count()); // nothing ran twice
            Assert.Equal(detail.Commands.Select(c => c.Id).Order(), begins.Order());
            Assert.Equal(151, Directory.GetFiles(Path.Combine(site.Root("web-1"), "etc", "base")).Length + Directory.GetFiles(Path.Combine(site.Root("web-1"), "etc", "tool")).Length);
        }
    }

    [Fact]
    public async Task Redelivered_command_is_answered_from_the_journal_and_not_run_again()
    {
        using var dir = new TempDirectory();
        var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using (gateway)
        {
            await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
            await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
            await site.SaveModelAsync(Models.Site(["web-1"]));
            await site.StartAgentAsync("web-1");
            await site.ConvergeAsync("web-1");
            var before = await site.WaitForQueueAsync("web-1");
            var install = before.Commands.Single(c => c.Kind == "install");

            // The exact window of CHECKLIST 17: the gateway sent the install and crashed before recording its
            // result. Recreate it in the database of the stopped gateway: the install is "sent" again and the
            // queue is back at that position.
            await gateway.KillAsync();
            await using (var connection = new SqliteConnection($"Data Source={gateway.DatabasePath};Pooling=false"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    UPDATE commands SET status = 'sent', result = NULL, finished_at = NULL WHERE queue_id = $q AND seq >= $seq;
                    UPDATE queues SET status = 'running', position = $seq, finished_at = NULL WHERE id = $q;
                    """;
                command.Parameters.AddWithValue("$q", install.QueueId);
                command.Parameters.AddWithValue("$seq", install.Sequence);
                Assert.True(await command.ExecuteNonQueryAsync() > 0);
            }
            await gateway.StartAsync();
            var beginsBefore = site.Journal("web-1", "begin").Count;
            await site.Api.PostAsync<JsonElement>("api/v1/devices/web-1/poke", null);

            var after = await site.WaitForQueueAsync("web-1");
            Assert.Equal(QueueStates.Succeeded, after.Status.Queue!.Status);
            var redelivered = after.Commands.Where(c => c.Sequence >= install.Sequence).ToList();
            Assert.All(redelivered, c => Assert.True(c.Result!.FromJournal, $"{c.Kind} should be answered from the journal"));
            Assert.All(redelivered, c => Assert.Equal(2, c.Deliveries));
            Assert.Equal(beginsBefore, site.Journal("web-1", "begin").Count); // nothing ran again
            Assert.Contains("answering from the journal", site.AgentLog("web-1"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Polling_agent_gets_its_queue_without_being_poked()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        await using var site = new TestSite(dir.Path, gateway.Api(), gateway.AgentUrl);
        await site.AddPackageAsync(Models.Tool, Models.ToolFiles);
        await site.SaveModelAsync(Models.Site(["web-1"]));
        await site.StartAgentAsync("web-1", poll: true);

        var converge = await site.ConvergeAsync("web-1");
        Assert.False(converge.Devices.Single().Poked); // no poke listener to reach
        var detail = await site.WaitForQueueAsync("web-1", TimeSpan.FromSeconds(30));
        Assert.Equal(QueueStates.Succeeded, detail.Status.Queue!.Status);
        Assert.DoesNotContain("poked", site.AgentLog("web-1"), StringComparison.Ordinal);
    }
}
