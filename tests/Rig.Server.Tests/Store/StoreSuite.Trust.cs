using System.Data.Common;
using Rig.Model.Planning;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    private CertificateRecord Certificate(string device, string label) =>
        new(Digest("cert " + label), device, label, Clock.Now, Clock.Now.AddDays(365), null);

    // ---- enrollment tokens and certificates ----------------------------------------------------

    [Fact]
    public async Task An_enrollment_token_is_consumed_once()
    {
        var token = Digest("token-1");
        await Store.AddEnrollmentTokenAsync(token, Device, Clock.Now.AddHours(1));
        var first = Certificate(Device, "first");
        var second = Certificate(Device, "second");

        Assert.True(await Store.ConsumeEnrollmentTokenAsync(token, Device, first));
        Assert.False(await Store.ConsumeEnrollmentTokenAsync(token, Device, second));

        Assert.Equal(first, await Store.FindCertificateAsync(first.Thumbprint));
        Assert.Null(await Store.FindCertificateAsync(second.Thumbprint));
        Assert.Equal(Clock.Now.ToUnixTimeMilliseconds(), await ScalarAsync("SELECT used_at FROM enrollment_tokens WHERE token_hash = @token", new { token }));
    }

    [Fact]
    public async Task An_expired_enrollment_token_is_refused_and_no_certificate_is_recorded()
    {
        var token = Digest("token-1");
        await Store.AddEnrollmentTokenAsync(token, Device, Clock.Now.AddHours(1));
        Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        var certificate = Certificate(Device, "late");

        Assert.False(await Store.ConsumeEnrollmentTokenAsync(token, Device, certificate));

        Assert.Null(await Store.FindCertificateAsync(certificate.Thumbprint));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM certificates"));
    }

    [Fact]
    public async Task An_enrollment_token_for_another_device_is_refused_and_stays_usable_for_its_own()
    {
        var token = Digest("token-1");
        await Store.AddEnrollmentTokenAsync(token, Device, Clock.Now.AddHours(1));
        var stolen = Certificate(OtherDevice, "stolen");
        var own = Certificate(Device, "own");

        Assert.False(await Store.ConsumeEnrollmentTokenAsync(token, OtherDevice, stolen));
        Assert.Null(await Store.FindCertificateAsync(stolen.Thumbprint));

        Assert.True(await Store.ConsumeEnrollmentTokenAsync(token, Device, own));
        Assert.Equal(own, await Store.FindCertificateAsync(own.Thumbprint));
    }

    [Fact]
    public async Task An_unknown_enrollment_token_is_refused_and_no_certificate_is_recorded()
    {
        await Store.AddEnrollmentTokenAsync(Digest("token-1"), Device, Clock.Now.AddHours(1));
        var certificate = Certificate(Device, "guess");

        Assert.False(await Store.ConsumeEnrollmentTokenAsync(Digest("token-2"), Device, certificate));

        Assert.Null(await Store.FindCertificateAsync(certificate.Thumbprint));
    }

    [Fact]
    public async Task A_token_is_not_consumed_when_its_certificate_cannot_be_recorded()
    {
        var first = Certificate(Device, "first");
        await Store.AddEnrollmentTokenAsync(Digest("token-1"), Device, Clock.Now.AddHours(1));
        await Store.AddEnrollmentTokenAsync(Digest("token-2"), Device, Clock.Now.AddHours(1));
        Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest("token-1"), Device, first));

        // Same thumbprint again: the certificate insert fails after the token update ran; both roll back.
        await Assert.ThrowsAnyAsync<DbException>(() => Store.ConsumeEnrollmentTokenAsync(Digest("token-2"), Device, first with { Serial = "dup" }));

        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM enrollment_tokens WHERE token_hash = @token AND used_at IS NOT NULL", new { token = Digest("token-2") }));
        Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest("token-2"), Device, Certificate(Device, "second")));
    }

    [Fact]
    public async Task Revoking_a_device_marks_all_its_certificates_and_no_others()
    {
        var certificates = new List<CertificateRecord>();
        foreach (var (token, device, label) in new[] { ("t1", Device, "a"), ("t2", Device, "b"), ("t3", OtherDevice, "c") })
        {
            var certificate = Certificate(device, label);
            await Store.AddEnrollmentTokenAsync(Digest(token), device, Clock.Now.AddHours(1));
            Assert.True(await Store.ConsumeEnrollmentTokenAsync(Digest(token), device, certificate));
            certificates.Add(certificate);
        }
        Clock.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(2, await Store.RevokeCertificatesAsync(Device));
        var revokedAt = Clock.Now;
        Clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(0, await Store.RevokeCertificatesAsync(Device));

        Assert.Equal(certificates[0] with { RevokedAt = revokedAt }, await Store.FindCertificateAsync(certificates[0].Thumbprint));
        Assert.Equal(certificates[1] with { RevokedAt = revokedAt }, await Store.FindCertificateAsync(certificates[1].Thumbprint));
        Assert.Equal(certificates[2], await Store.FindCertificateAsync(certificates[2].Thumbprint));
    }

    [Fact]
    public async Task An_operator_token_is_found_by_its_hash_until_revoked_and_names_its_operator()
    {
        var expires = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeMilliseconds());
        Assert.Null(await Store.CreateOperatorTokenAsync(Digest("op-1"), "alice-laptop", "alice", null, expires, "admin"));
        Assert.Null(await Store.CreateOperatorTokenAsync(Digest("op-2"), "bob-ci", "bob", null, null, "admin"));

        var alice = await Store.FindOperatorTokenAsync(Digest("op-1"));
        Assert.Equal(("alice-laptop", "alice", expires, "admin"), (alice!.TokenName, alice.Operator, alice.ExpiresAt!.Value, alice.CreatedBy));
        Assert.Equal("bob", (await Store.FindOperatorTokenAsync(Digest("op-2")))!.Operator);
        Assert.Null(await Store.FindOperatorTokenAsync(Digest("op-3")));

        // A live name is unique; a revoked one may be used again.
        Assert.Equal("token-exists", (await Store.CreateOperatorTokenAsync(Digest("op-4"), "alice-laptop", "alice", null, null, "admin"))!.Code);
        Assert.NotNull(await Store.RevokeOperatorTokenAsync("alice-laptop"));
        Assert.Null(await Store.RevokeOperatorTokenAsync("alice-laptop"));
        Assert.Null(await Store.FindOperatorTokenAsync(Digest("op-1")));
        Assert.Equal("bob", (await Store.FindOperatorTokenAsync(Digest("op-2")))!.Operator);
        Assert.Null(await Store.CreateOperatorTokenAsync(Digest("op-5"), "alice-laptop", "alice", null, null, "admin"));
        Assert.Equal(["alice-laptop", "alice-laptop"], (await Store.ListOperatorTokensAsync("alice")).Select(t => t.TokenName));
    }

    [Fact]
    public async Task Grants_reach_an_operator_through_their_teams_and_revoking_keeps_the_history()
    {
        Assert.Null(await Store.CreateTeamAsync("shop-content", "Acme's web team", "admin"));
        Assert.Equal("team-exists", (await Store.CreateTeamAsync("shop-content", null, "admin"))!.Code);
        Assert.Null(await Store.AddTeamMemberAsync("shop-content", "carol", "admin"));
        Assert.Equal("not-found", (await Store.AddTeamMemberAsync("nope", "carol", "admin"))!.Code);
        var scope = new Rig.Server.Security.Scope(Sites: ["shop"], Kinds: ["content"]);
        var (grant, refusal) = await Store.AddGrantAsync("shop-content", false, ["read", "edit"], scope, "the shop's content", "admin");
        Assert.Null(refusal);
        Assert.Equal("team-unknown", (await Store.AddGrantAsync("nope", false, ["read"], scope, "x", "admin")).Refusal!.Code);

        var grants = await Store.GrantsOfOperatorAsync("carol");
        var only = Assert.Single(grants);
        Assert.Equal([Rig.Server.Security.Verb.Read, Rig.Server.Security.Verb.Edit], only.Verbs);
        Assert.Equal(scope.Sites, only.Scope.Sites);
        Assert.Equal(scope.Kinds, only.Scope.Kinds);
        Assert.Null(only.Scope.Customers);
        Assert.Equal(["shop-content"], await Store.TeamsOfOperatorAsync("carol"));

        Assert.Equal("team-in-use", (await Store.DeleteTeamAsync("shop-content"))!.Code);
        var revoked = await Store.RevokeGrantAsync(grant!.Id, "admin", "moved to the new team");
        Assert.Equal(("admin", "moved to the new team"), (revoked!.RevokedBy, revoked.RevokeReason));
        Assert.Null(await Store.RevokeGrantAsync(grant.Id, "admin", "again"));
        Assert.Empty(await Store.GrantsOfOperatorAsync("carol"));
        Assert.DoesNotContain(await Store.ListGrantsAsync(history: false), g => g.Id == grant.Id);
        Assert.Contains(await Store.ListGrantsAsync(history: true), g => g.Id == grant.Id && g.RevokedAt is not null);
        Assert.True(await Store.RemoveTeamMemberAsync("shop-content", "carol"));
        Assert.Null(await Store.DeleteTeamAsync("shop-content"));
    }

    [Fact]
    public async Task The_first_operator_is_an_admin_who_may_do_everything()
    {
        await Store.AddFirstOperatorAsync(Digest("first"), "admin", null);
        var token = await Store.FindOperatorTokenAsync(Digest("first"));
        Assert.Equal(("admin", "admin-init"), (token!.Operator, token.TokenName));
        var grant = Assert.Single(await Store.GrantsOfOperatorAsync("admin"));
        Assert.Equal(Rig.Server.Security.Verbs.All, grant.Verbs);
        Assert.True(grant.Scope.IsEverything);
    }

    // ---- device runtime ------------------------------------------------------------------------

    [Fact]
    public async Task Touching_a_device_records_where_to_poke_it_and_keeps_its_recorded_state()
    {
        Assert.Null(await Store.GetDeviceRuntimeAsync(Device));
        await Store.TouchDeviceAsync(Device, "10.0.1.11", 7001, "0.1.0");
        var first = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Equal(new DeviceRuntime(Device, "10.0.1.11", 7001, "0.1.0", Clock.Now, first!.Recorded, null), first);
        Assert.Equal(Json(RecordedState.Empty), Json(first.Recorded));

        var state = new RecordedState { Files = new Dictionary<string, RecordedFile> { ["/etc/motd"] = new("/etc/motd", Digest("motd"), "0644", "root", "root", "os") } };
        await Store.SetRecordedStateAsync(Device, state);
        Clock.Advance(TimeSpan.FromMinutes(1));
        await Store.TouchDeviceAsync(Device, null, null, "0.2.0");
        await Store.SetRecordedStateAsync(OtherDevice, RecordedState.Empty);

        var second = await Store.GetDeviceRuntimeAsync(Device);
        Assert.Equal(new DeviceRuntime(Device, null, null, "0.2.0", Clock.Now, second!.Recorded, null), second);
        Assert.Equal(Json(state), Json(second.Recorded));
        var all = await Store.ListDeviceRuntimeAsync();
        Assert.Equal([Device, OtherDevice], all.Select(r => r.Device));
        Assert.Null(all[1].LastSeenAt);
    }
}
