using Rig.Protocol.Errors;
using Rig.Server.Api;
using Rig.Server.Gateway;
using Rig.Server.Packages;

namespace Rig.Server.Tests.Gateway;

/// <summary>The HTTP status of a refusal is chosen once, at the endpoint: every refusal code has one, and they are the
/// statuses agents and operators have always seen.</summary>
public sealed class RefusalStatusTests
{
    [Theory]
    [InlineData(RefusalCode.ProtocolVersion, 400)]
    [InlineData(RefusalCode.OtherDevice, 403)]
    [InlineData(RefusalCode.UnknownCertificate, 403)]
    [InlineData(RefusalCode.RevokedCertificate, 403)]
    [InlineData(RefusalCode.ExpiredCertificate, 403)]
    [InlineData(RefusalCode.UnknownCommand, 409)]
    [InlineData(RefusalCode.ForeignCommand, 403)]
    [InlineData(RefusalCode.BadResult, 400)]
    [InlineData(RefusalCode.MissingResults, 409)]
    [InlineData(RefusalCode.BadDevice, 400)]
    [InlineData(RefusalCode.BadToken, 403)]
    [InlineData(RefusalCode.BadCsr, 400)]
    [InlineData(RefusalCode.BadRequest, 400)]
    public void The_agent_endpoint_answers_each_refusal_with_its_status(RefusalCode refusal, int status) =>
        Assert.Equal(status, AgentEndpoints.StatusOf(refusal));

    [Fact]
    public void Every_refusal_code_has_an_http_status_and_a_wire_name_that_parses_back()
    {
        foreach (var refusal in Enum.GetValues<RefusalCode>())
        {
            Assert.InRange(AgentEndpoints.StatusOf(refusal), 400, 499);
            Assert.Equal(refusal, RefusalCodes.Parse(refusal.Wire()));
        }
    }

    [Fact]
    public void An_exchange_refusal_keeps_its_wire_code_and_is_not_retry_safe()
    {
        var refused = new ExchangeRefusedException(RefusalCode.MissingResults, "report them first") { Missing = ["a"] };
        Assert.Equal(("missing-results", false), (refused.Code, refused.RetrySafe));
    }

    [Theory]
    [InlineData("Invalid", 400)]
    [InlineData("NotFound", 404)]
    [InlineData("Conflict", 409)]
    public void The_operator_api_answers_a_refused_rollout_with_the_status_of_its_kind(string refusal, int status) =>
        Assert.Equal(status, ApiErrors.StatusOf(new RolloutRefusedException("bad-rollout", "no", Enum.Parse<OperatorRefusal>(refusal))));

    [Fact]
    public void A_package_fetch_is_retry_safe_only_when_the_mirror_failed_or_another_fetch_was_running()
    {
        var safe = Enum.GetValues<PackageFetchErrorKind>().Where(k => new PackageFetchException(k, "x", "y").RetrySafe).ToList();
        Assert.Equal([PackageFetchErrorKind.Repository, PackageFetchErrorKind.Busy], safe);
        Assert.Equal(409, ApiErrors.StatusOf(new PackageRejectedException(PackageRejectedException.Conflict, "taken")));
        Assert.Equal(400, ApiErrors.StatusOf(new PackageRejectedException("bad-name", "no")));
    }
}
