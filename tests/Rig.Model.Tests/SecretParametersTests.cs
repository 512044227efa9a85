using Rig.Model.Domain;
using Rig.Model.Files;
using Rig.Model.Validation;

namespace Rig.Model.Tests;

/// <summary>Secret parameters in model files: the <c>secrets:</c> declaration read, written, validated with file
/// positions; values masked for showing; the placeholder keeping a stored value; text masking.</summary>
public class SecretParametersTests
{
    private const string Site = """
        parameters:
          db_password: correct-horse-battery
          http_port: "80"
        secrets: [db_password]
        sites:
          - name: shop
            parameters: {api_token: tok-0123456789}
        """;

    private const string MoreSecrets = """
        secrets:
          - api_token
        """;

    private static ModelFileResult Read(params (string Path, string Text)[] files) =>
        ModelFiles.Read([.. files.Select(f => new ModelSourceFile(f.Path, f.Text))]);

    [Fact]
    public void Secrets_declared_in_several_files_are_one_list_and_the_values_stay_in_their_layers()
    {
        var result = Read(("site.yaml", Site), ("secrets.yaml", MoreSecrets));

        Assert.Empty(result.Errors);
        Assert.Equal(["api_token", "db_password"], result.Model!.Secrets.Order(StringComparer.Ordinal));
        Assert.Equal("correct-horse-battery", result.Model.Parameters["db_password"]);
        Assert.Empty(ModelValidator.Validate(result.Model));
        Assert.Equal(["correct-horse-battery", "tok-0123456789"], SecretParameters.Values(result.Model).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Writing_a_model_keeps_its_secrets_declaration()
    {
        var model = Read(("site.yaml", Site), ("secrets.yaml", MoreSecrets)).Model!;

        var again = ModelFiles.Read(ModelFiles.Write(model));

        Assert.Empty(again.Errors);
        Assert.Equal(model.Secrets, again.Model!.Secrets);
    }

    [Fact]
    public void A_secret_no_layer_sets_and_an_invalid_name_are_errors_at_their_line_in_the_file()
    {
        var result = Read(("site.yaml", Site), ("secrets.yaml", """
            secrets:
              - api_token
              - smtp_password
              - "bad name"
            """));
        var errors = ModelFiles.Locate(ModelValidator.Validate(result.Model!), result.Map);

        var unknown = Assert.Single(errors, e => e.Code == "secret.unknown-parameter");
        Assert.Equal(new SourceLocation("secrets.yaml", 3, 5), unknown.Location);
        Assert.Contains("'smtp_password'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("remove it from `secrets`", unknown.Message, StringComparison.Ordinal);
        var invalid = Assert.Single(errors, e => e.Code == "secret.name-invalid");
        Assert.Equal(new SourceLocation("secrets.yaml", 4, 5), invalid.Location);
    }

    [Fact]
    public void A_secret_declared_twice_is_a_duplicate_naming_both_places()
    {
        var result = Read(("site.yaml", Site), ("secrets.yaml", "secrets: [db_password]\n"));

        var error = Assert.Single(result.Errors);
        Assert.Equal(ModelFileCodes.DuplicateName, error.Code);
        Assert.Equal("site.yaml", error.Location.File); // secrets.yaml is read first (ordinal path order)
        Assert.Equal(4, error.Location.Line);
        Assert.Contains("secrets.yaml:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_secrets_declaration_that_is_not_a_list_is_a_wrong_type()
    {
        var result = Read(("secrets.yaml", "secrets: db_password\n"));

        var error = Assert.Single(result.Errors);
        Assert.Equal(ModelFileCodes.WrongType, error.Code);
        Assert.Equal(new SourceLocation("secrets.yaml", 1, 10), error.Location);
    }

    [Fact]
    public void A_secret_value_shorter_than_the_minimum_is_refused()
    {
        var model = Read(("site.yaml", Site.Replace("correct-horse-battery", "abc", StringComparison.Ordinal))).Model!;

        var error = Assert.Single(ModelValidator.Validate(model));

        Assert.Equal("secret.too-short", error.Code);
        Assert.Equal("parameters/db_password", error.Where);
        Assert.DoesNotContain("abc", error.Message, StringComparison.Ordinal); // the value itself is not echoed
    }

    [Fact]
    public void A_masked_model_shows_the_placeholder_and_applied_back_keeps_the_stored_values()
    {
        var stored = Read(("site.yaml", Site), ("secrets.yaml", MoreSecrets)).Model!;

        var masked = SecretParameters.Masked(stored);
        var (kept, errors) = SecretParameters.KeepStored(masked, stored);

        Assert.Equal(SecretParameters.Placeholder, masked.Parameters["db_password"]);
        Assert.Equal(SecretParameters.Placeholder, masked.Sites.Single().Parameters["api_token"]);
        Assert.Equal("80", masked.Parameters["http_port"]);
        Assert.Empty(errors);
        Assert.Equal("correct-horse-battery", kept.Parameters["db_password"]);
        Assert.Equal("tok-0123456789", kept.Sites.Single().Parameters["api_token"]);
    }

    [Fact]
    public void The_placeholder_where_nothing_is_stored_is_an_error_naming_the_parameter()
    {
        var stored = Read(("site.yaml", Site)).Model!;
        var proposed = Read(("site.yaml", Site), ("secrets.yaml", MoreSecrets)).Model!;
        proposed = proposed with { Sites = [proposed.Sites.Single() with { Parameters = new Dictionary<string, string> { ["api_token"] = SecretParameters.Placeholder } }] };

        var (_, errors) = SecretParameters.KeepStored(proposed, stored);

        var error = Assert.Single(errors);
        Assert.Equal("secret.placeholder-unknown", error.Code);
        Assert.Equal("sites/shop/parameters/api_token", error.Where);
    }

    [Theory]
    [InlineData("password=pa\"ss-word-1\n")]
    [InlineData("{\"content\":\"password=pa\\\"ss-word-1\"}")]
    [InlineData("{\"content\":\"password=pa\\u0022ss-word-1\"}")]
    public void Text_masking_finds_a_value_as_written_and_json_escaped(string text)
    {
        var mask = new SecretMask(["pa\"ss-word-1", "short"]);

        var masked = mask.Mask(text);

        Assert.DoesNotContain("ss-word-1", masked, StringComparison.Ordinal);
        Assert.Contains(SecretParameters.Placeholder, masked, StringComparison.Ordinal);
        Assert.Equal("short", mask.Mask("short")); // under the minimum length: never masked (validation refuses it)
    }
}
