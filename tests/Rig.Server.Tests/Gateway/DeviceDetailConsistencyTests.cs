using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Gateway;

/// <summary>A device's page is one consistent picture: a queue shown as finished comes with what its commands
/// changed in the device's recorded state. (CI once saw a succeeded queue beside a recorded state that lacked the
/// queue's change: the detail read the recorded state before the exchange committed and the queue after.)</summary>
public sealed class DeviceDetailConsistencyTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-detail-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _token = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private HttpClient Client() => TestClients.Operator(_server, _token);

    [Fact]
    public async Task A_finished_queue_is_never_shown_without_the_recorded_changes_of_its_commands()
    {
        using var client = Client();
        var store = _server.Store;
        var seen = new List<string>();
        for (var round = 0; round < 40; round++)
        {
            var path = $"/etc/rig/round-{round}";
            var write = WriteFile(path, $"round {round}");
            var queue = (await store.CreateQueueAsync(Device, [write], "consistency test", 1)).Created!;
            var delivered = await store.ExchangeAsync(Device, Inquiry(), 3); // the command is delivered
            Assert.True(delivered.Command?.Id == write.Id, $"round {round}: {JsonSerializer.Serialize(delivered)}");

            using var stop = new CancellationTokenSource();
            var reader = Task.Run(async () =>
            {
                var observations = new List<(string? Queue, string? Status, bool Recorded)>();
                while (!stop.IsCancellationRequested)
                {
                    using var doc = JsonDocument.Parse(await client.GetStringAsync($"api/v1/devices/{Device}"));
                    var q = doc.RootElement.GetProperty("status").TryGetProperty("queue", out var qe) && qe.ValueKind == JsonValueKind.Object ? qe : (JsonElement?)null;
                    var files = doc.RootElement.GetProperty("recorded").TryGetProperty("files", out var fe) && fe.ValueKind == JsonValueKind.Object ? fe : (JsonElement?)null;
                    observations.Add((q?.GetProperty("id").GetString(), q?.GetProperty("status").GetString(), files?.TryGetProperty(path, out _) == true));
                }
                return observations;
            });
            await Task.Delay(Random.Shared.Next(0, 15));
            await store.ExchangeAsync(Device, Report(Succeeded(write.Id)), 3);
            await Task.Delay(20);
            await stop.CancelAsync();
            foreach (var (id, status, recorded) in await reader)
            {
                if (id == queue.Id && status == QueueStates.Succeeded && !recorded)
                    Assert.Fail($"round {round}: queue {queue.Id} shown as succeeded while the recorded state lacks {path}");
                seen.Add($"{status}/{recorded}");
            }
        }
        Assert.Contains("succeeded/True", seen); // the reads did see finished queues
    }
}
