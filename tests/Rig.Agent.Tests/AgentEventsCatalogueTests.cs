using System.Reflection;
using System.Text.RegularExpressions;
using Rig.Agent.Runtime;

namespace Rig.Agent.Tests;

/// <summary>Operators grep the agent's event names: every name the agent logs comes from its one catalogue, and
/// docs/OPERATIONS.md's table lists exactly the catalogue's names.</summary>
public sealed partial class AgentEventsCatalogueTests
{
    private static List<string> Catalogue() =>
        [.. typeof(AgentEvents).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetRawConstantValue()!)];

    [Fact]
    public void Every_agent_event_of_the_catalogue_is_in_the_operations_table_and_no_other()
    {
        var catalogue = Catalogue();
        Assert.Equal(catalogue.Count, catalogue.Distinct().Count());
        var table = TableRow().Matches(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "OPERATIONS.md"))).Select(m => m.Groups[1].Value).ToList();

        var undocumented = catalogue.Except(table).ToList();
        var unknown = table.Except(catalogue).ToList();
        Assert.True(undocumented.Count == 0, "docs/OPERATIONS.md's agent event table lacks: " + string.Join(", ", undocumented));
        Assert.True(unknown.Count == 0, "docs/OPERATIONS.md's agent event table names events the agent does not log: " + string.Join(", ", unknown));
    }

    [Fact]
    public void The_agent_names_no_log_event_outside_its_catalogue()
    {
        var literal = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot(), "src", "Rig.Agent"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                continue;
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (LiteralEvent().IsMatch(lines[i]))
                    literal.Add($"{Path.GetFileName(file)}:{i + 1}");
            }
        }
        Assert.True(literal.Count == 0, "log events named by a string literal instead of AgentEvents: " + string.Join(", ", literal));
    }

    [GeneratedRegex(@"^\| `([a-z-]+)` \| (?:debug|info|warn|error) \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"\blog\.(?:Warn|Info|Debug|Error)\(\s*""", RegexOptions.IgnoreCase)]
    private static partial Regex LiteralEvent();

    private static string RepoRoot()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repo.FullName, "Rig.slnx")))
            repo = repo.Parent!;
        return repo.FullName;
    }
}

/// <summary>The agent decides on a refusal by its code, parsed from the wire.</summary>
public sealed class GatewayRefusalTests
{
    [Fact]
    public void A_refusal_the_agent_knows_is_parsed_to_its_code_and_is_not_retry_safe()
    {
        var refusal = new GatewayRefusalException(409, "missing-results", "report them first") { Missing = ["a"] };
        Assert.Equal((Rig.Protocol.Errors.RefusalCode.MissingResults, "missing-results", false), (refusal.Refusal, refusal.Code, refusal.RetrySafe));
    }

    [Fact]
    public void A_refusal_code_the_agent_does_not_know_keeps_its_wire_code_with_no_refusal()
    {
        var refusal = new GatewayRefusalException(403, "http-403", "a proxy said no");
        Assert.Equal((null, "http-403"), (refusal.Refusal, refusal.Code));
    }

    [Fact]
    public void A_transport_failure_is_retry_safe() => Assert.True(new GatewayUnavailableException("reset").RetrySafe);
}
