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
    public async Task An_operator_token_is_found_by_its_hash_until_revoked()
    {
        await Store.AddOperatorTokenAsync(Digest("op-1"), "alice");
        await Store.AddOperatorTokenAsync(Digest("op-2"), "bob");

        Assert.Equal("alice", await Store.FindOperatorAsync(Digest("op-1")));
        Assert.Equal("bob", await Store.FindOperatorAsync(Digest("op-2")));
        Assert.Null(await Store.FindOperatorAsync(Digest("op-3")));

        // The store has no revoke method for operator tokens yet; revoke the row as an operator would by hand.
        Assert.Equal(1, await ExecuteAsync("UPDATE operator_tokens SET revoked_at = 1 WHERE token_hash = @token", new { token = Digest("op-1") }));
        Assert.Null(await Store.FindOperatorAsync(Digest("op-1")));
        Assert.Equal("bob", await Store.FindOperatorAsync(Digest("op-2")));
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
