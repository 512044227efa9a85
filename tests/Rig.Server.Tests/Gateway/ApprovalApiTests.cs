using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Rig.Model;
using Rig.Model.Domain;

namespace Rig.Server.Tests.Gateway;

/// <summary>Four eyes through the operator API on a real gateway: a change to an os role needs an approval by another
/// operator holding 'approve' there before it is rolled out or converged (docs/SECURITY-approvals.md).</summary>
public sealed class ApprovalApiTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"rig-approvals-{Guid.NewGuid():n}");
    private GatewayServer _server = null!;
    private string _admin = "";

    public async Task InitializeAsync()
    {
        var options = new ServerOptions { DataDirectory = _dir, AgentListenAddress = "127.0.0.1", AgentPort = 0, ApiPort = 0, LogLevel = "None" };
        _admin = await GatewayServer.InitializeAsync(options);
        _server = await GatewayServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task An_os_change_approved_by_a_second_operator_may_be_rolled_out()
    {
        var bob = await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        Assert.Equal(1, await ApplyAsync(Model(osVersion: "1")));

        var pending = await GetAsync(_admin, "api/v1/revisions/1/approval");
        Assert.Equal("pending", pending.GetProperty("state").GetString());
        Assert.Equal(1, pending.GetProperty("required").GetInt32());
        Assert.Contains(pending.GetProperty("objects").EnumerateArray(), o => o.GetProperty("kind").GetString() == "role" && o.GetProperty("name").GetString() == "base");

        var approved = await PostAsync(bob, "api/v1/revisions/1/approve?message=looks%20fine", HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("state").GetString());
        Assert.Equal(["bob"], approved.GetProperty("approvedBy").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("looks fine", approved.GetProperty("decisions")[0].GetProperty("message").GetString());

        await RolloutAsync(1, HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_rollout_of_an_unapproved_os_revision_is_refused_naming_what_is_missing()
    {
        await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        await ApplyAsync(Model(osVersion: "1"));

        var error = await RolloutAsync(1, HttpStatusCode.Conflict);
        var converge = await PostAsync(_admin, "api/v1/converge", HttpStatusCode.Conflict, "{}");

        Assert.Equal("approval-required", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("role base", message, StringComparison.Ordinal);
        Assert.Contains("1 approval(s) by an operator other than admin holding 'approve'", message, StringComparison.Ordinal);
        Assert.Contains("it has 0", message, StringComparison.Ordinal);
        Assert.Contains("rig approve 1", message, StringComparison.Ordinal);
        Assert.Equal("approval-required", converge.GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_author_cannot_approve_their_own_revision_and_nothing_is_recorded()
    {
        await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        await ApplyAsync(Model(osVersion: "1"));

        var error = await PostAsync(_admin, "api/v1/revisions/1/approve", HttpStatusCode.Forbidden);

        Assert.Contains("the author cannot approve their own revision", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var approval = await GetAsync(_admin, "api/v1/revisions/1/approval");
        Assert.Equal("pending", approval.GetProperty("state").GetString());
        Assert.Empty(approval.GetProperty("decisions").EnumerateArray());
    }

    [Fact]
    public async Task A_content_only_change_needs_no_approval()
    {
        var bob = await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        await ApplyAsync(Model(osVersion: "1"));
        await PostAsync(bob, "api/v1/revisions/1/approve", HttpStatusCode.OK);
        Assert.Equal(2, await ApplyAsync(Model(osVersion: "1", title: "New title")));

        var approval = await GetAsync(_admin, "api/v1/revisions/2/approval");

        Assert.Equal("not-required", approval.GetProperty("state").GetString());
        Assert.Empty(approval.GetProperty("objects").EnumerateArray());
        await RolloutAsync(2, HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_rejected_revision_blocks_its_rollouts_and_later_ones_until_someone_approves_it()
    {
        var bob = await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        await ApplyAsync(Model(osVersion: "1"));
        var rejected = await PostAsync(bob, "api/v1/revisions/1/reject?message=wrong%20kernel", HttpStatusCode.OK);
        await ApplyAsync(Model(osVersion: "1", title: "New title"));

        var error = await RolloutAsync(2, HttpStatusCode.Conflict);
        var later = await GetAsync(_admin, "api/v1/revisions/2/approval");

        Assert.Equal("rejected", rejected.GetProperty("state").GetString());
        Assert.Contains("Revision 1 changes ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("role base", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("rejected by bob", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal([1L], later.GetProperty("blockedBy").EnumerateArray().Select(e => e.GetInt64()));

        await PostAsync(bob, "api/v1/revisions/1/approve", HttpStatusCode.OK);
        await RolloutAsync(2, HttpStatusCode.Created);
    }

    [Fact]
    public async Task An_approver_without_approve_on_the_os_scope_is_refused()
    {
        var carol = await OperatorAsync("carol", "content-approvers", ["read", "approve"], new { kinds = new[] { "content" } });
        var dave = await OperatorAsync("dave", "nobody", ["read"], new { });
        await ApplyAsync(Model(osVersion: "1"));

        var error = await PostAsync(carol, "api/v1/revisions/1/approve", HttpStatusCode.Forbidden);
        var noVerb = await PostAsync(dave, "api/v1/revisions/1/approve", HttpStatusCode.Forbidden);

        Assert.Contains("may not approve revision 1", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("role base", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("'approve'", noVerb.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty((await GetAsync(_admin, "api/v1/revisions/1/approval")).GetProperty("decisions").EnumerateArray());
    }

    [Fact]
    public async Task A_revision_the_caller_may_not_see_answers_as_if_it_did_not_exist()
    {
        await ApplyAsync(Model(osVersion: "1"));
        var erin = await OperatorAsync("erin", "other-site", ["read", "approve"], new { sites = new[] { "elsewhere" } });
        await ApplyAsync(Model(osVersion: "2"));

        var invisible = await PostAsync(erin, "api/v1/revisions/2/approve", HttpStatusCode.NotFound);
        var missing = await PostAsync(erin, "api/v1/revisions/99/approve", HttpStatusCode.NotFound);

        Assert.Equal(missing.GetProperty("code").GetString(), invisible.GetProperty("code").GetString());
        Assert.Equal("There is no revision 2.", invisible.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_revision_made_while_its_author_was_the_only_operator_needs_no_approval()
    {
        await ApplyAsync(Model(osVersion: "1"));
        await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });

        Assert.Equal("not-required", (await GetAsync(_admin, "api/v1/revisions/1/approval")).GetProperty("state").GetString());
        await RolloutAsync(1, HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_policy_in_the_model_can_turn_approval_off_but_not_for_its_own_change()
    {
        var bob = await OperatorAsync("bob", "os-approvers", ["read", "approve"], new { kinds = new[] { "os" } });
        var off = Model(osVersion: "2") with { Approvals = [new ApprovalPolicy { Kinds = ["os"], Approvals = 0 }] };
        await ApplyAsync(off);

        Assert.Equal("pending", (await GetAsync(_admin, "api/v1/revisions/1/approval")).GetProperty("state").GetString());
        await PostAsync(bob, "api/v1/revisions/1/approve", HttpStatusCode.OK);
        await ApplyAsync(off with { Roles = [.. off.Roles.Select(r => r.Kind == "os" ? r with { Version = "3" } : r)] });
        Assert.Equal("not-required", (await GetAsync(_admin, "api/v1/revisions/2/approval")).GetProperty("state").GetString());
        await RolloutAsync(2, HttpStatusCode.Created);
    }

    // ---- helpers --------------------------------------------------------------------------------

    /// <summary>Sites shop (with web-1) and elsewhere (empty), an os role <c>base</c> and a content role <c>site</c> (its parameter a title).</summary>
    private static RigModel Model(string osVersion, string title = "Shop") => new()
    {
        Sites = [new Site { Name = "shop" }, new Site { Name = "elsewhere" }],
        Devices = [new Device { Name = "web-1", Site = "shop" }],
        Roles =
        [
            new Role { Name = "base", Kind = "os", Version = osVersion },
            new Role { Name = "site", Kind = "content", Parameters = new Dictionary<string, string> { ["title"] = title } },
        ],
        Assignments = [new RoleAssignment("web-1", "base"), new RoleAssignment("web-1", "site")],
    };

    /// <summary>Make operator <paramref name="name"/> in a new team with a grant of <paramref name="verbs"/> on
    /// <paramref name="scope"/>; returns their token.</summary>
    private async Task<string> OperatorAsync(string name, string team, string[] verbs, object scope)
    {
        await PostAsync(_admin, "api/v1/teams", HttpStatusCode.Created, JsonSerializer.Serialize(new { name = team }));
        await PostAsync(_admin, "api/v1/grants", HttpStatusCode.Created, JsonSerializer.Serialize(new { team, verbs, scope, reason = "test" }));
        var created = await PostAsync(_admin, "api/v1/tokens", HttpStatusCode.Created, JsonSerializer.Serialize(new { name = $"{name}-token", @operator = name, team }));
        return created.GetProperty("secret").GetString()!;
    }

    private async Task<long> ApplyAsync(RigModel model)
    {
        using var client = Client(_admin);
        using var response = await client.PostAsync("api/v1/apply?message=test", new StringContent(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"apply answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("revision").GetInt64();
    }

    /// <summary>Start a rollout of <paramref name="rev"/> as the admin; the error object when refused.</summary>
    private async Task<JsonElement> RolloutAsync(long rev, HttpStatusCode expected)
    {
        var answer = await PostAsync(_admin, "api/v1/rollouts", expected, JsonSerializer.Serialize(new { revision = rev }));
        return answer;
    }

    private async Task<JsonElement> GetAsync(string token, string path)
    {
        using var client = Client(token);
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>POST and check the status; the answer, or its <c>error</c> object when it is one.</summary>
    private async Task<JsonElement> PostAsync(string token, string path, HttpStatusCode expected, string? json = null)
    {
        using var client = Client(token);
        using var response = await client.PostAsync(path, json is null ? null : new StringContent(json, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path} answered {(int)response.StatusCode}, expected {(int)expected}: {body}");
        var root = JsonDocument.Parse(body).RootElement.Clone();
        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error) ? error : root;
    }

    private HttpClient Client(string token) => TestClients.Operator(_server, token);
}
