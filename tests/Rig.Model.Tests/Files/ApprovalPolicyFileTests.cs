using System.Text.Json;
using Rig.Model.Domain;
using Rig.Model.Files;
using Rig.Model.Validation;

namespace Rig.Model.Tests.Files;

/// <summary>The model files' <c>approvals:</c> list (docs/MODEL.md, <em>Approvals</em>): read, written back, and
/// refused with a position and what to write when wrong.</summary>
public class ApprovalPolicyFileTests
{
    private static ModelFileResult Read(string text) => ModelFiles.Read([new ModelSourceFile("site.yaml", text)]);

    [Fact]
    public void Policies_are_read_in_order_with_their_scopes()
    {
        var result = Read("""
            customers: [{name: acme}]
            sites: [{name: shop, customer: acme}, {name: lab}]
            approvals:
              - {kinds: [os, app], approvals: 2}
              - kinds: [os]
                sites: [lab]
                approvals: 0
              - {customers: [acme], approvals: 1}
            """);

        Assert.Empty(result.Errors);
        var policies = result.Model!.Approvals;
        Assert.Equal(3, policies.Count);
        Assert.Equal(["os", "app"], policies[0].Kinds!);
        Assert.Equal(2, policies[0].Approvals);
        Assert.Equal(["lab"], policies[1].Sites!);
        Assert.Equal(0, policies[1].Approvals);
        Assert.Null(policies[2].Kinds);
        Assert.Equal(["acme"], policies[2].Customers!);
        Assert.Empty(ModelValidator.Validate(result.Model));
    }

    [Fact]
    public void Policies_are_written_and_read_back_equal()
    {
        var model = new RigModel
        {
            Sites = [new Site { Name = "shop" }],
            Approvals = [new ApprovalPolicy { Kinds = ["os"], Sites = ["shop"], Approvals = 2 }, new ApprovalPolicy { Approvals = 0 }],
        };

        var back = ModelFiles.Read(ModelFiles.Write(model));

        Assert.Empty(back.Errors);
        Assert.Equal(JsonSerializer.Serialize(model, ModelJson.Default.RigModel), JsonSerializer.Serialize(back.Model!, ModelJson.Default.RigModel));
    }

    [Fact]
    public void A_policy_without_a_count_is_refused_saying_what_to_write()
    {
        var error = Assert.Single(Read("approvals:\n  - kinds: [os]\n").Errors);

        Assert.Equal(ModelFileCodes.MissingKey, error.Code);
        Assert.Equal("approvals/0/approvals", error.Key);
        Assert.Equal(2, error.Location.Line);
        Assert.Contains("0 turns approval off", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("approvals:\n  - {kinds: [os], approvals: two}\n", ModelFileCodes.NotANumber, "approvals/0/approvals")]
    [InlineData("approvals:\n  - {kinds: [os], approvals: 9}\n", ModelFileCodes.NotANumber, "approvals/0/approvals")]
    [InlineData("approvals:\n  - {kind: [os], approvals: 1}\n", ModelFileCodes.UnknownKey, "approvals/0/kind")]
    [InlineData("approvals:\n  - {kinds: os, approvals: 1}\n", ModelFileCodes.WrongType, "approvals/0/kinds")]
    [InlineData("approvals:\n  - os\n", ModelFileCodes.WrongType, "approvals/0")]
    public void A_malformed_policy_is_refused_at_its_key(string text, string code, string key)
    {
        var result = Read(text);

        Assert.Null(result.Model);
        var error = Assert.Single(result.Errors);
        Assert.Equal(code, error.Code);
        Assert.Equal(key, error.Key);
    }

    [Fact]
    public void Policies_across_files_are_numbered_in_file_order()
    {
        var result = ModelFiles.Read([new ModelSourceFile("a.yaml", "approvals:\n  - {approvals: 1}\n"), new ModelSourceFile("b.yaml", "approvals:\n  - {kinds: [os]}\n")]);

        Assert.Equal("approvals/1/approvals", Assert.Single(result.Errors).Key);
    }

    [Fact]
    public void Validation_names_unknown_kinds_customers_and_sites_and_counts_out_of_range()
    {
        var model = new RigModel
        {
            Sites = [new Site { Name = "shop" }],
            Approvals =
            [
                new ApprovalPolicy { Kinds = ["firewall"], Approvals = 1 },
                new ApprovalPolicy { Customers = ["nobody"], Sites = ["nowhere"], Approvals = 6 },
            ],
        };

        var errors = ModelValidator.Validate(model);

        Assert.Equal(
            [("approval.kind-unknown", "approvals/0/kinds"), ("approval.count-invalid", "approvals/1/approvals"), ("approval.customer-unknown", "approvals/1/customers"), ("approval.site-unknown", "approvals/1/sites")],
            errors.Select(e => (e.Code, e.Where)));
        Assert.Contains("'firewall'", errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("roleKinds", errors[0].Message, StringComparison.Ordinal);
    }
}
