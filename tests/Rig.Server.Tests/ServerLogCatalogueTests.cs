using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Rig.Server.Tests;

/// <summary>Operators grep event ids: every id the gateway logs is in docs/OPERATIONS.md's table under its name, and the
/// table names no id the gateway does not log.</summary>
public sealed partial class ServerLogCatalogueTests
{
    [Fact]
    public void Every_event_id_of_the_server_log_catalogue_is_in_the_operations_table_under_its_name_and_no_other()
    {
        var catalogue = typeof(ServerLog).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (Id: x.Attribute!.EventId, Name: x.Attribute.EventName ?? x.Method.Name))
            .Concat(typeof(ServerEventIds).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (Id: (int)f.GetRawConstantValue()!, Name: f.Name)))
            .ToList();
        Assert.True(catalogue.Count > 20, $"only {catalogue.Count} events found in the catalogue");
        Assert.Empty(catalogue.GroupBy(e => e.Id).Where(g => g.Count() > 1).Select(g => g.Key)); // an id means one thing

        var table = TableRow().Matches(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "OPERATIONS.md")))
            .Select(m => (Id: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Name: m.Groups[2].Value))
            .ToList();

        var undocumented = catalogue.Except(table).Select(e => $"{e.Id} {e.Name}").ToList();
        var unknown = table.Except(catalogue).Select(e => $"{e.Id} {e.Name}").ToList();
        Assert.True(undocumented.Count == 0, "docs/OPERATIONS.md's event table lacks: " + string.Join(", ", undocumented));
        Assert.True(unknown.Count == 0, "docs/OPERATIONS.md's event table names events the gateway does not log: " + string.Join(", ", unknown));
    }

    [GeneratedRegex(@"^\| (\d{4}) \| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    private static string RepoRoot()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repo.FullName, "Rig.slnx")))
            repo = repo.Parent!;
        return repo.FullName;
    }
}
