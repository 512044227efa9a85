using NetArchTest.Rules;

namespace Rig.Cli.Tests;

/// <summary>The CLI speaks the operator API through its contract (<c>Rig.Contracts</c>): the gateway's store rows can
/// change without a CLI change. It still references Rig.Server, to host the gateway (<c>rig server run</c>, <c>rig demo</c>).</summary>
public class ArchitectureTests
{
    [Fact]
    public void The_cli_assembly_references_no_store_type()
    {
        var result = Types.InAssembly(typeof(Rig.Cli.RigCli).Assembly)
            .ShouldNot().HaveDependencyOnAny("Rig.Server.Store")
            .GetResult();

        Assert.True(result.IsSuccessful,
            "CLI types that use Rig.Server.Store (read the operator API's Rig.Contracts types instead): " +
            string.Join(", ", result.FailingTypes?.Select(t => t.FullName) ?? []));
    }
}
