namespace Rig.Server.Tests.Gateway;

public sealed class OtlpEndpointTests
{
    [Theory]
    [InlineData("http://collector:4318", "http://collector:4318/v1/traces")]
    [InlineData("http://collector:4318/", "http://collector:4318/v1/traces")]
    [InlineData("https://otel.example/custom/traces", "https://otel.example/custom/traces")]
    public void A_base_url_gets_the_traces_path_and_a_url_with_a_path_is_used_as_given(string endpoint, string expected) =>
        Assert.Equal(new Uri(expected), ServerOptions.OtlpTracesUri(endpoint));

    [Theory]
    [InlineData("collector:4318")]
    [InlineData("grpc://collector:4317")]
    [InlineData("http://user:secret@collector:4318")]
    [InlineData("not a url")]
    public void Anything_but_an_http_url_without_credentials_is_refused_naming_it(string endpoint)
    {
        var refused = Assert.Throws<ArgumentException>(() => ServerOptions.OtlpTracesUri(endpoint));
        Assert.Contains($"'{endpoint}'", refused.Message, StringComparison.Ordinal);
        Assert.Contains("http://collector:4318", refused.Message, StringComparison.Ordinal);
    }
}
