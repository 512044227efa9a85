using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;
using Rig.Server.Tests.Postgres;

namespace Rig.Server.Tests.Authorization;

/// <summary>Edits authorized by their diff, and request bodies that try to reach beyond the caller's scope, on a real
/// gateway seeded by <see cref="TrustedGateway"/>; proved on SQLite (<see cref="SqliteEditScopeTests"/>) and
/// PostgreSQL (<see cref="PostgresEditScopeTests"/>).</summary>
public abstract class EditScopeTests : IAsyncLifetime
{
    private TrustedGateway _gateway = null!;

    /// <summary>Null: SQLite in the data directory.</summary>
    protected abstract Task<string?> ConnectionStringAsync();

    public async Task InitializeAsync() => _gateway = await TrustedGateway.StartAsync(await ConnectionStringAsync());

    public virtual async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(long Revision, string Model)> RecordedAsync()
    {
        using var admin = _gateway.Client(Persona.Admin);
        var revisions = JsonDocument.Parse(await TrustedGateway.Ok(await admin.GetAsync("api/v1/revisions"))).RootElement;
        var newest = revisions.EnumerateArray().Max(r => r.GetProperty("revision").GetInt64());
        return (newest, await TrustedGateway.Ok(await admin.GetAsync("api/v1/model")));
    }

    private static Role WithTitle(Role role, string title) => role with { Version = role.Version + "1", Parameters = new Dictionary<string, string>(role.Parameters) { ["title"] = title } };

    [Fact]
    public async Task Content_team_changes_its_content_role_and_its_parameters_through_its_own_view_of_the_model()
    {
        using var content = _gateway.Client(Persona.AcmeContent);
        var mine = await TrustedGateway.ReadModelAsync(await content.GetAsync("api/v1/model"));
        Assert.Equal(["shop-content"], mine.Roles.Select(r => r.Name));
        var (before, _) = await RecordedAsync();

        mine.Roles = [.. mine.Roles.Select(r => WithTitle(r, "Shop, new season"))];
        using var response = await content.PutAsync("api/v1/model?message=new+season", TrustedGateway.ModelContent(mine));
        var saved = await TrustedGateway.Ok<ModelPutResponse>(response);

        Assert.True(saved.Changed);
        Assert.Equal(before + 1, saved.Revision);
        Assert.Equal(1, saved.Modified);
        using var admin = _gateway.Client(Persona.Admin);
        var whole = await TrustedGateway.ReadModelAsync(await admin.GetAsync("api/v1/model"));
        var seed = TrustedGateway.SeedModel();
        Assert.Equal("Shop, new season", whole.Roles.Single(r => r.Name == "shop-content").Parameters["title"]);
        // Everything the content team could not see is still there, as it was.
        Assert.Equal(seed.Devices.Select(d => d.Name).Order(), whole.Devices.Select(d => d.Name).Order());
        Assert.Equal(seed.Roles.Select(r => r.Name).Order(), whole.Roles.Select(r => r.Name).Order());
        Assert.Equal(seed.Assignments.Count, whole.Assignments.Count);
        Assert.Equal("blog home", whole.Roles.Single(r => r.Name == "blog-content").Parameters["title"]);
        var history = JsonDocument.Parse(await TrustedGateway.Ok(await admin.GetAsync("api/v1/revisions"))).RootElement;
        Assert.Equal("carla", history.EnumerateArray().First(r => r.GetProperty("revision").GetInt64() == saved.Revision).GetProperty("author").GetString());
    }

    /// <summary>What the content team adds to its own view: the os role changed, another site's content role changed, a
    /// device in another site of its customer.</summary>
    public static TheoryData<string, string[]> OutsideEdits => new()
    {
        { "os-role", ["role base-os (kind os) is outside the edit scope of team acme-content"] },
        { "site-b-role", ["role blog-content (kind content) is outside the edit scope of team acme-content"] },
        { "both", ["role base-os (kind os) is outside the edit scope of team acme-content", "role blog-content (kind content) is outside the edit scope of team acme-content"] },
    };

    [Theory]
    [MemberData(nameof(OutsideEdits))]
    public async Task An_apply_touching_an_os_role_or_another_site_is_refused_as_a_whole_naming_each_object_and_nothing_is_recorded(string edit, string[] named)
    {
        using var content = _gateway.Client(Persona.AcmeContent);
        var mine = await TrustedGateway.ReadModelAsync(await content.GetAsync("api/v1/model"));
        var seed = TrustedGateway.SeedModel();
        var recorded = await RecordedAsync();

        // Its own content change rides along: the whole apply is refused, not just the part outside.
        var roles = mine.Roles.Select(r => WithTitle(r, "changed")).ToList();
        if (edit is "os-role" or "both")
            roles.Add(seed.Roles.Single(r => r.Name == "base-os") with { Version = "2", Items = [new FileItem("/etc/motd", "motd"), new FileItem("/etc/issue", "motd")] });
        if (edit is "site-b-role" or "both")
            roles.Add(WithTitle(seed.Roles.Single(r => r.Name == "blog-content"), "defaced"));
        mine.Roles = roles;
        foreach (var path in new[] { "api/v1/model", "api/v1/apply" })
        {
            using var response = path.EndsWith("model", StringComparison.Ordinal) ? await content.PutAsync(path, TrustedGateway.ModelContent(mine)) : await content.PostAsync(path, TrustedGateway.ModelContent(mine));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            var error = await TrustedGateway.ErrorOfAsync(response);
            var message = error.GetProperty("message").GetString()!;
            Assert.StartsWith("The change was refused as a whole and nothing was recorded", message, StringComparison.Ordinal);
            foreach (var name in named)
                Assert.Contains(name, message, StringComparison.Ordinal);
            Assert.DoesNotContain("shop-content", message, StringComparison.Ordinal);
        }
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task A_partial_editor_cannot_remove_what_it_cannot_see_nor_take_over_another_customers_name()
    {
        using var globex = _gateway.Client(Persona.Globex);
        var recorded = await RecordedAsync();

        // Globex sends a model without acme's objects (it cannot see them): they are kept, nothing changes.
        var mine = await TrustedGateway.ReadModelAsync(await globex.GetAsync("api/v1/model"));
        Assert.Equal(TrustedGateway.GlobexDevices, mine.Devices.Select(d => d.Name).Order());
        var unchanged = await TrustedGateway.Ok<ModelPutResponse>(await globex.PutAsync("api/v1/model", TrustedGateway.ModelContent(mine)));
        Assert.False(unchanged.Changed);

        // A device of acme's, named in globex's model in globex's site: refused, acme's device as it was.
        mine.Devices = [.. mine.Devices, new Device { Name = "shop-web-1", Site = "store", Tier = "web" }];
        using (var response = await globex.PutAsync("api/v1/model", TrustedGateway.ModelContent(mine)))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("device shop-web-1 is outside the edit scope of team globex-ops", (await TrustedGateway.ErrorOfAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        // acme's site moved to globex: refused too.
        mine.Devices = [.. mine.Devices.Where(d => d.Name != "shop-web-1")];
        mine.Sites = [.. mine.Sites, new Site { Name = "shop", Customer = "globex" }];
        using (var response = await globex.PutAsync("api/v1/model", TrustedGateway.ModelContent(mine)))
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task A_partial_editors_change_that_breaks_a_hidden_object_is_refused_without_naming_it()
    {
        // The provider links its monitoring host to globex's web server; globex cannot see that link.
        using (var admin = _gateway.Client(Persona.Admin))
        {
            var whole = await TrustedGateway.ReadModelAsync(await admin.GetAsync("api/v1/model"));
            whole.Links = [.. whole.Links, new Interconnection { From = "infra-1", To = "store-web-1", Purpose = "monitoring" }];
            await TrustedGateway.Ok<ModelPutResponse>(await admin.PutAsync("api/v1/model", TrustedGateway.ModelContent(whole)));
        }
        var recorded = await RecordedAsync();

        // Globex removes its web server: inside its scope, but the hidden link would point nowhere.
        using var globex = _gateway.Client(Persona.Globex);
        var mine = await TrustedGateway.ReadModelAsync(await globex.GetAsync("api/v1/model"));
        mine.Devices = [.. mine.Devices.Where(d => d.Name != "store-web-1")];
        mine.Links = [.. mine.Links.Where(l => l.From != "store-web-1" && l.To != "store-web-1")];
        mine.Assignments = [.. mine.Assignments.Where(a => a.Device != "store-web-1")];
        using var response = await globex.PutAsync("api/v1/model", TrustedGateway.ModelContent(mine));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.Contains("model.hidden-conflict", body, StringComparison.Ordinal);
        Assert.DoesNotContain("infra-1", body, StringComparison.Ordinal);
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task Clone_and_decommission_need_edit_on_the_whole_device_with_its_roles_and_links()
    {
        using (var admin = _gateway.Client(Persona.Admin))
            await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/grants", new GrantRequest("acme-content", ["manage-devices"], new ScopeView(Sites: ["shop"]), "shop may clone")));
        var recorded = await RecordedAsync();
        using var content = _gateway.Client(Persona.AcmeContent);

        // shop-web-1 carries the os role: cloning it would assign base-os to the clone, outside a content team's edit scope.
        using (var clone = await content.PostAsJsonAsync("api/v1/devices/shop-web-1/clone", new CloneDeviceRequest("shop-web-9", null, ["10.1.0.99"], [], "more capacity")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, clone.StatusCode);
            var why = (await TrustedGateway.ErrorOfAsync(clone)).GetProperty("message").GetString()!;
            // Its own definition and link are named; the os role assignment, which carla cannot read, only counted.
            Assert.True(why.Contains("device shop-web-1", StringComparison.Ordinal) && why.Contains("1 object(s) you cannot see", StringComparison.Ordinal) && !why.Contains("base-os", StringComparison.Ordinal), why);
        }
        using (var decommission = await content.PostAsync("api/v1/devices/shop-web-1/decommission?message=gone", null))
            Assert.Equal(HttpStatusCode.Forbidden, decommission.StatusCode);
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task A_followed_device_log_ends_when_the_followers_token_is_revoked()
    {
        using var admin = _gateway.Client(Persona.Admin);
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(["shop-web-1"], "a queue to follow")));
        using var content = _gateway.Client(Persona.AcmeContent);
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/devices/shop-web-1/log?follow=true");
        using var response = await content.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var lines = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Contains("\"queue\"", await lines.ReadLineAsync());

        // No agent takes the queue, so the stream would wait for it; revoking carla's token ends it within a poll.
        await TrustedGateway.Ok(await admin.PostAsync("api/v1/tokens/carla-token/revoke", null));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var rest = await lines.ReadToEndAsync(deadline.Token);
        Assert.DoesNotContain("\"end\"", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deny_on_one_customer_holds_against_an_edit_grant_on_everything()
    {
        using var admin = _gateway.Client(Persona.Admin);
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/teams", new TeamCreateRequest("noc")));
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/grants", new GrantRequest("noc", ["read", "edit"], null, "the NOC runs everything")));
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/grants", new GrantRequest("noc", ["read", "edit"], new ScopeView(Customers: ["acme"]), "but not acme", Deny: true)));
        var token = (await TrustedGateway.Ok<TokenCreated>(await admin.PostAsJsonAsync("api/v1/tokens", new TokenCreateRequest("nina-token", "nina", "noc")))).Secret;
        using var noc = _gateway.Client(token);
        var recorded = await RecordedAsync();

        // Reading: acme's devices are hidden from the list and from the model alike.
        var devices = JsonDocument.Parse(await TrustedGateway.Ok(await noc.GetAsync("api/v1/devices"))).RootElement.EnumerateArray().Select(d => d.GetProperty("name").GetString()!).Order().ToList();
        Assert.Equal(["infra-1", "store-db-1", "store-web-1"], devices);
        var model = await TrustedGateway.ReadModelAsync(await noc.GetAsync("api/v1/model"));
        Assert.Equal(devices, model.Devices.Select(d => d.Name).Order().ToList());

        // Editing acme's content role: refused.
        var edited = TrustedGateway.SeedModel();
        edited.Roles = [.. edited.Roles.Select(r => r.Name == "shop-content" ? WithTitle(r, "defaced") : r)];
        using var response = await noc.PutAsync("api/v1/model", TrustedGateway.ModelContent(edited));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task A_device_of_another_customer_named_in_a_request_body_is_unknown()
    {
        using var content = _gateway.Client(Persona.AcmeContent);
        async Task<(int, string, string)> ErrorAsync(HttpResponseMessage response, string name)
        {
            var error = await TrustedGateway.ErrorOfAsync(response);
            return ((int)response.StatusCode, error.GetProperty("code").GetString()!, error.GetProperty("message").GetString()!.Replace(name, "NAME", StringComparison.Ordinal));
        }
        // converge {devices:[globex's device]}: 404, word for word like a device that does not exist.
        var converge = await ErrorAsync(await content.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(["store-web-1"], null)), "store-web-1");
        Assert.Equal(404, converge.Item1);
        Assert.Equal(await ErrorAsync(await content.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(["ghost-1"], null)), "ghost-1"), converge);
        // A visible device beside it does not help.
        Assert.Equal(HttpStatusCode.NotFound, (await content.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(["shop-web-1", "store-web-1"], null))).StatusCode);

        // A rollout selector naming it selects nothing the caller may see: the answer for a name that matches nothing.
        var rollout = await ErrorAsync(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "store-web-1")), "store-web-1");
        Assert.Equal(await ErrorAsync(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "ghost-1")), "ghost-1"), rollout);
        Assert.Equal(400, rollout.Item1);
        var bySite = await ErrorAsync(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "site=store")), "site=store");
        Assert.Equal(await ErrorAsync(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "site=nowhere")), "site=nowhere"), bySite);

        // Nothing was queued for globex.
        using var admin = _gateway.Client(Persona.Admin);
        foreach (var device in TrustedGateway.GlobexDevices)
        {
            var detail = JsonDocument.Parse(await TrustedGateway.Ok(await admin.GetAsync($"api/v1/devices/{device}"))).RootElement;
            Assert.Equal(JsonValueKind.Null, detail.GetProperty("status").GetProperty("queue").ValueKind);
        }
    }

    [Fact]
    public async Task A_content_role_cannot_pull_in_another_customers_template_to_read_it()
    {
        const string Secret = "globex-only: the staging password is hunter2";
        using var admin = _gateway.Client(Persona.Admin);
        var whole = await TrustedGateway.ReadModelAsync(await admin.GetAsync("api/v1/model"));
        whole.Templates = [.. whole.Templates.Select(t => t.Name == "store-index" ? t with { Text = Secret } : t)];
        await TrustedGateway.Ok(await admin.PutAsync("api/v1/model", TrustedGateway.ModelContent(whole)));
        var recorded = await RecordedAsync();

        // acme's content team references globex's template (which it cannot see) from its own content role.
        using var content = _gateway.Client(Persona.AcmeContent);
        var mine = await TrustedGateway.ReadModelAsync(await content.GetAsync("api/v1/model"));
        Assert.DoesNotContain(mine.Templates, t => t.Name == "store-index");
        mine.Roles = [.. mine.Roles.Select(r => r with { Version = "2", Items = [.. r.Items, new FileItem("/srv/shop/peek.html", "store-index")] })];
        var bodies = new List<string>();
        using (var plan = await content.PostAsync("api/v1/plan", TrustedGateway.ModelContent(mine)))
            bodies.Add($"plan {(int)plan.StatusCode}: {await plan.Content.ReadAsStringAsync()}");
        using (var put = await content.PutAsync("api/v1/model", TrustedGateway.ModelContent(mine)))
        {
            bodies.Add($"put {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
            Assert.True(put.StatusCode == HttpStatusCode.Forbidden, bodies[^1]);
        }
        var current = (await RecordedAsync()).Revision;
        using (var asOf = await content.GetAsync($"api/v1/model/as-of?at={current}"))
            bodies.Add($"as-of: {await asOf.Content.ReadAsStringAsync()}");
        Assert.All(bodies, b => Assert.DoesNotContain("hunter2", b, StringComparison.Ordinal));
        Assert.Equal(recorded, await RecordedAsync());
    }

    [Fact]
    public async Task Acting_on_a_rollout_that_reaches_beyond_the_callers_scope_is_refused_without_naming_what_they_cannot_see()
    {
        using var admin = _gateway.Client(Persona.Admin);
        var rollout = await TrustedGateway.Ok<RolloutView>(await admin.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, "all", Canary: 1, MaxParallel: 1)));
        using var content = _gateway.Client(Persona.AcmeContent);

        // acme's content team sees the rollout, with its own devices only.
        var seen = await TrustedGateway.Ok<RolloutView>(await content.GetAsync($"api/v1/rollouts/{rollout.Id}"));
        Assert.Equal(TrustedGateway.ShopDevices, seen.Devices.Select(d => d.Device).Order());
        foreach (var action in new[] { "pause", "cancel", "retry" })
        {
            using var response = await content.PostAsync($"api/v1/rollouts/{rollout.Id}/{action}", null);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{action}: {(int)response.StatusCode} {body}");
            foreach (var hidden in TrustedGateway.AllDevices.Except(TrustedGateway.ShopDevices))
                Assert.DoesNotContain(hidden, body, StringComparison.Ordinal);
        }
        var after = await TrustedGateway.Ok<RolloutView>(await admin.GetAsync($"api/v1/rollouts/{rollout.Id}"));
        Assert.Equal(RolloutStates.Running, after.Status);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("tier=web")]
    [InlineData("shop-web-1,store-web-1,blog-web-1")]
    public async Task A_selector_matching_devices_of_two_customers_reaches_only_the_callers_own(string selector)
    {
        using var admin = _gateway.Client(Persona.Admin);
        await TrustedGateway.Ok(await admin.PostAsJsonAsync("api/v1/grants", new GrantRequest("acme-content", ["run-script"], new ScopeView(Sites: ["shop"]), "shop may run scripts")));
        await TrustedGateway.Ok(await admin.PutAsync("api/v1/scripts/check", new StringContent("""{"commands":[{"kind":"inventory"}]}""", System.Text.Encoding.UTF8, "application/json")));
        using var content = _gateway.Client(Persona.AcmeContent);
        string[] expected = selector == "all" ? TrustedGateway.ShopDevices : selector == "tier=web" ? ["shop-web-1", "shop-web-2"] : ["shop-web-1"];

        var run = await TrustedGateway.Ok<LifecycleResponse>(await content.PostAsJsonAsync("api/v1/scripts/check/run", new ScriptRunRequest(selector)));
        Assert.Equal(expected, run.Queues.Select(q => q.Device).Order());
        // The script's queues block the rollout's devices; cancel them first (as the content team on its devices with
        // content; shop-db-1 has none, so its queue is the admin's to cancel).
        foreach (var device in expected)
            await TrustedGateway.Ok(await (device == "shop-db-1" ? admin : content).PostAsync($"api/v1/devices/{device}/cancel", null));

        if (expected.Contains("shop-db-1"))
        {
            // The selector reaches a device the content team sees but may not roll out to (no content there): refused as
            // a whole, naming it, and nothing of another customer.
            using var refused = await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, selector));
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, body);
            Assert.Contains("shop-db-1", body, StringComparison.Ordinal);
            Assert.DoesNotContain("store-", body, StringComparison.Ordinal);
        }
        else
        {
            var rollout = await TrustedGateway.Ok<RolloutView>(await content.PostAsJsonAsync("api/v1/rollouts", new RolloutStartRequest(null, selector)));
            Assert.Equal(expected, rollout.Devices.Select(d => d.Device).Order());
        }
        var converge = await TrustedGateway.Ok<ConvergeResponse>(await content.PostAsJsonAsync("api/v1/converge", new ConvergeRequest(null, null)));
        Assert.All(converge.Devices, d => Assert.Contains(d.Device, new[] { "shop-web-1", "shop-web-2" })); // all it may roll out: the devices with content

        // Whatever they selected, no other device got a queue.
        foreach (var device in TrustedGateway.AllDevices.Except(TrustedGateway.ShopDevices))
        {
            var detail = JsonDocument.Parse(await TrustedGateway.Ok(await admin.GetAsync($"api/v1/devices/{device}"))).RootElement;
            Assert.True(detail.GetProperty("status").GetProperty("queue").ValueKind == JsonValueKind.Null, $"{device} got a queue from acme's selector '{selector}'");
        }
    }
}

public sealed class SqliteEditScopeTests : EditScopeTests
{
    protected override Task<string?> ConnectionStringAsync() => Task.FromResult<string?>(null);
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresEditScopeTests(PostgresServer postgres) : EditScopeTests
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
