using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Rig.Server.Tests.Postgres;

namespace Rig.Server.Tests.Authorization;

/// <summary>Rights are checked again when a rollout's next wave starts, on the starter's behalf: a grant revoked
/// mid-rollout (gateway running, or while it was stopped) stops new waves. Waves: canary 1 then the rest, one device at a
/// time; the first wave's queue is ended by cancelling it (no agent needed), which lets the engine move on.</summary>
public abstract class RolloutRecheckTests : IAsyncLifetime
{
    private TrustedGateway _gateway = null!;

    protected abstract Task<string?> ConnectionStringAsync();

    public async Task InitializeAsync() => _gateway = await TrustedGateway.StartAsync(await ConnectionStringAsync());

    public virtual async Task DisposeAsync() => await _gateway.DisposeAsync();

    /// <summary>globex's operator rolls out its site: store-web-1 and store-db-1, canary 1, one at a time.</summary>
    private async Task<(string Id, string First, string Second)> StartAsGlobexAsync()
    {
        using var globex = _gateway.Client(Persona.Globex);
        var rollout = await TrustedGateway.Ok<RolloutView>(await globex.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "site=store", Canary: 1, MaxParallel: 1)));
        Assert.Equal(TrustedGateway.GlobexDevices, rollout.Devices.Select(d => d.Device).Order());
        // The engine starts the first wave at its next step.
        rollout = await WaitForAsync(rollout.Id, r => r.Devices.Any(d => d.Status != RolloutDeviceStatuses.Waiting));
        var first = Assert.Single(rollout.Devices, d => d.Status == RolloutDeviceStatuses.Queued);
        var second = Assert.Single(rollout.Devices, d => d.Device != first.Device);
        Assert.Equal(RolloutDeviceStatuses.Waiting, second.Status);
        Assert.True(second.Wave > first.Wave);
        return (rollout.Id, first.Device, second.Device);
    }

    private async Task<RolloutView> WaitForAsync(string id, Func<RolloutView, bool> done)
    {
        using var admin = _gateway.Client(Persona.Admin);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var rollout = await TrustedGateway.Ok<RolloutView>(await admin.GetAsync($"api/v1/rollouts/{id}"));
            if (done(rollout))
                return rollout;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"rollout {id} did not get there: {JsonSerializer.Serialize(rollout)}");
            await Task.Delay(100);
        }
    }

    private async Task AssertNoQueueAsync(string device)
    {
        using var admin = _gateway.Client(Persona.Admin);
        var detail = JsonDocument.Parse(await TrustedGateway.Ok(await admin.GetAsync($"api/v1/devices/{device}"))).RootElement;
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("status").GetProperty("queue").ValueKind);
    }

    private static void AssertPausedForRights(RolloutView rollout, string second)
    {
        Assert.Equal(RolloutStates.Paused, rollout.Status);
        Assert.Contains($"operator 'gus', who started it, no longer holds 'rollout' on {second}", $"{rollout.Error} {rollout.Reason}", StringComparison.Ordinal);
        Assert.Equal(RolloutDeviceStatuses.Waiting, rollout.Devices.Single(d => d.Device == second).Status);
    }

    [Fact]
    public async Task A_grant_revoked_mid_rollout_starts_no_further_wave()
    {
        var (id, first, second) = await StartAsGlobexAsync();
        using var admin = _gateway.Client(Persona.Admin);
        await TrustedGateway.Ok(await admin.PostAsync($"api/v1/grants/{_gateway.GrantIds["globex-ops"]}/revoke?message=contract+ended", null));
        await TrustedGateway.Ok(await admin.PostAsync($"api/v1/devices/{first}/cancel", null)); // wave 1 ends

        var rollout = await WaitForAsync(id, r => r.Status != RolloutStates.Running);
        AssertPausedForRights(rollout, second);
        await AssertNoQueueAsync(second);
    }

    [Fact]
    public async Task With_the_grant_kept_the_next_wave_starts()
    {
        var (id, first, second) = await StartAsGlobexAsync();
        using var admin = _gateway.Client(Persona.Admin);
        await TrustedGateway.Ok(await admin.PostAsync($"api/v1/devices/{first}/cancel", null));

        var rollout = await WaitForAsync(id, r => r.Devices.Single(d => d.Device == second).Status != RolloutDeviceStatuses.Waiting);
        Assert.Equal(RolloutDeviceStatuses.Queued, rollout.Devices.Single(d => d.Device == second).Status);
        Assert.Equal(RolloutStates.Running, rollout.Status);
    }

    [Fact]
    public async Task A_rollout_resumed_after_a_restart_checks_the_starters_rights_again()
    {
        var (id, first, second) = await StartAsGlobexAsync();
        var grant = _gateway.GrantIds["globex-ops"];
        // While the gateway is down: the grant is revoked and the first wave's queue ends.
        await _gateway.RestartAsync(async store =>
        {
            Assert.NotNull(await store.RevokeGrantAsync(grant, "admin", "contract ended"));
            Assert.NotNull(await store.CancelQueueAsync(first, "ended while the gateway was down"));
        });

        var rollout = await WaitForAsync(id, r => r.Status != RolloutStates.Running);
        AssertPausedForRights(rollout, second);
        await AssertNoQueueAsync(second);
    }
}

public sealed class SqliteRolloutRecheckTests : RolloutRecheckTests
{
    protected override Task<string?> ConnectionStringAsync() => Task.FromResult<string?>(null);
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresRolloutRecheckTests(PostgresServer postgres) : RolloutRecheckTests
{
    private string? _database;

    protected override async Task<string?> ConnectionStringAsync()
    {
        _database = await postgres.CreateDatabaseAsync();
        return postgres.ConnectionString(_database);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_database is not null)
            await postgres.DropDatabaseAsync(_database);
    }
}
