namespace Rig.EndToEnd.Harness;

/// <summary>A temp directory, a real gateway process and a test site over it, with the tool package imported;
/// disposed in reverse order (agents, gateway, directory).</summary>
internal sealed class LiveSite : IAsyncDisposable
{
    private LiveSite(TempDirectory directory, GatewayHarness gateway, TestSite site)
    {
        Directory = directory;
        Gateway = gateway;
        Site = site;
    }

    /// <summary>The working directory.</summary>
    public TempDirectory Directory { get; }
    /// <summary>The gateway process.</summary>
    public GatewayHarness Gateway { get; }
    /// <summary>The site (API, agents, journals).</summary>
    public TestSite Site { get; }

    /// <summary>Start a gateway and import the tool package.</summary>
    public static async Task<LiveSite> StartAsync()
    {
        var directory = new TempDirectory();
        GatewayHarness gateway;
        try
        {
            gateway = await TestGateway.StartAsync(Path.Combine(directory.Path, "gateway"));
        }
        catch
        {
            directory.Dispose();
            throw;
        }
        var live = new LiveSite(directory, gateway, new TestSite(directory.Path, gateway.Api(), gateway.AgentUrl));
        try
        {
            await live.Site.AddPackageAsync(Models.Tool, Models.ToolFiles);
            return live;
        }
        catch
        {
            await live.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Site.DisposeAsync();
        await Gateway.DisposeAsync();
        Directory.Dispose();
    }
}
