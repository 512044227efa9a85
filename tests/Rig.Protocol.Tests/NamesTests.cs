namespace Rig.Protocol.Tests;

/// <summary>CHECKLIST 14: nothing that reaches a package manager's argument vector can look like an option or
/// shell syntax. Every rule is anchored at the very end of the string (a trailing newline is refused too).</summary>
public sealed class NamesTests
{
    /// <summary>Strings that must never pass any of the name rules.</summary>
    public static TheoryData<string> Hostile => new()
    {
        "nginx;reboot",
        ";",
        "$(reboot)",
        "a$(id)",
        "a`id`",
        "`id`",
        "a b",
        " a",
        "a ",
        "a\nb",
        "a\n",
        "\na",
        "a\r",
        "a\t",
        "a\0",
        "-a",
        "--force",
        "a|b",
        "a&b",
        "a>b",
        "a'b",
        "a\"b",
        "a/b",
        "a\\b",
        "a*",
        "é",
        "",
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_strings_are_refused_by_every_rule(string value)
    {
        Assert.False(Names.IsValidPackageName(value), "package name");
        Assert.False(Names.IsValidVersion(value), "version");
        Assert.False(Names.IsValidObjectName(value), "object name");
        Assert.False(Names.IsValidParameterName(value), "parameter name");
        Assert.False(Names.IsValidServiceName(value), "service name");
    }

    [Fact]
    public void Null_is_refused_by_every_rule()
    {
        Assert.False(Names.IsValidPackageName(null));
        Assert.False(Names.IsValidVersion(null));
        Assert.False(Names.IsValidObjectName(null));
        Assert.False(Names.IsValidParameterName(null));
        Assert.False(Names.IsValidServiceName(null));
        Assert.False(Names.IsValidSha256(null));
    }

    [Theory]
    [InlineData("nginx")]
    [InlineData("libc6")]
    [InlineData("g++")]
    [InlineData("python3.12")]
    [InlineData("libstdc++6")]
    [InlineData("demo_app-2")]
    [InlineData("0ad")]
    [InlineData("A")]
    public void Real_package_names_are_valid(string name) => Assert.True(Names.IsValidPackageName(name));

    [Theory]
    [InlineData(".hidden")]
    [InlineData("_private")]
    [InlineData("+plus")]
    [InlineData("demo:amd64")]
    [InlineData("demo~1")]
    [InlineData("demo=1.0")]
    public void Package_names_starting_with_punctuation_or_holding_version_syntax_are_invalid(string name) =>
        Assert.False(Names.IsValidPackageName(name));

    [Fact]
    public void A_package_name_may_be_128_characters_but_not_129()
    {
        Assert.True(Names.IsValidPackageName(new string('a', 128)));
        Assert.False(Names.IsValidPackageName(new string('a', 129)));
    }

    [Theory]
    [InlineData("1.0")]
    [InlineData("1:2.3-4~bpo1")]
    [InlineData("2.4.57-2")]
    [InlineData("1.0+git20240101.abc")]
    [InlineData("1.0~rc1")]
    [InlineData("7:4.4.2-0ubuntu0.22.04.1")]
    [InlineData("1.2_3")]
    [InlineData("v2")]
    public void Real_versions_including_debian_epochs_and_tildes_are_valid(string version) =>
        Assert.True(Names.IsValidVersion(version));

    [Theory]
    [InlineData(":1.0")]
    [InlineData("~1.0")]
    [InlineData(".1")]
    [InlineData("1.0;reboot")]
    [InlineData("1.0\n")]
    [InlineData("-1.0")]
    public void Versions_starting_with_punctuation_or_carrying_shell_syntax_are_invalid(string version) =>
        Assert.False(Names.IsValidVersion(version));

    [Fact]
    public void A_version_may_be_128_characters_but_not_129()
    {
        Assert.True(Names.IsValidVersion(new string('1', 128)));
        Assert.False(Names.IsValidVersion(new string('1', 129)));
    }

    [Theory]
    [InlineData("web")]
    [InlineData("web-01")]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("site-paris-2")]
    public void Dns_label_like_object_names_are_valid(string name) => Assert.True(Names.IsValidObjectName(name));

    [Theory]
    [InlineData("Web")]
    [InlineData("web-")]
    [InlineData("web_01")]
    [InlineData("web.01")]
    [InlineData("web:01")]
    public void Object_names_with_capitals_dots_underscores_or_a_trailing_dash_are_invalid(string name) =>
        Assert.False(Names.IsValidObjectName(name));

    [Fact]
    public void An_object_name_may_be_63_characters_but_not_64()
    {
        Assert.True(Names.IsValidObjectName(new string('a', 63)));
        Assert.False(Names.IsValidObjectName(new string('a', 64)));
    }

    [Theory]
    [InlineData("http_port")]
    [InlineData("_private")]
    [InlineData("X")]
    [InlineData("port2")]
    public void Identifier_parameter_names_are_valid(string name) => Assert.True(Names.IsValidParameterName(name));

    [Theory]
    [InlineData("2port")]
    [InlineData("http-port")]
    [InlineData("http.port")]
    [InlineData("{{ x }}")]
    public void Parameter_names_that_are_not_identifiers_are_invalid(string name) =>
        Assert.False(Names.IsValidParameterName(name));

    [Fact]
    public void A_parameter_name_may_be_128_characters_but_not_129()
    {
        Assert.True(Names.IsValidParameterName(new string('p', 128)));
        Assert.False(Names.IsValidParameterName(new string('p', 129)));
    }

    [Theory]
    [InlineData("nginx.service")]
    [InlineData("getty@tty1.service")]
    [InlineData("demo")]
    [InlineData("systemd-journald")]
    public void Systemd_service_names_are_valid(string name) => Assert.True(Names.IsValidServiceName(name));

    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void A_lower_case_hex_sha256_is_valid() => Assert.True(Names.IsValidSha256(EmptySha256));

    [Theory]
    [InlineData("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")] // upper case
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]  // 63
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")] // 65
    [InlineData("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]  // not hex
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\n")] // 63 + newline = 64 chars
    [InlineData(" 3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("")]
    public void Anything_else_is_not_a_sha256(string value) => Assert.False(Names.IsValidSha256(value));
}
