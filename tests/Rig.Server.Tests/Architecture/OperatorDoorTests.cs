using NetArchTest.Rules;

namespace Rig.Server.Tests.Architecture;

/// <summary>The operator API is a door, not a second store client: its endpoints call the application services
/// (<c>Rig.Server.Services</c>), which are the single place where a caller's rights will be checked and lists filtered.
/// Read from the compiled assembly (Mono.Cecil, via NetArchTest), so a store type used only inside a lambda's body is
/// caught too.</summary>
public class OperatorDoorTests
{
    [Fact]
    public void No_type_of_the_operator_api_references_a_store_type_in_signatures_or_bodies()
    {
        var result = Types.InAssembly(typeof(Rig.Server.GatewayServer).Assembly)
            .That().ResideInNamespace("Rig.Server.Api")
            .ShouldNot().HaveDependencyOnAny("Rig.Server.Store")
            .GetResult();

        Assert.True(result.IsSuccessful,
            "Types of Rig.Server.Api that use Rig.Server.Store (call a service in Rig.Server.Services instead): " +
            string.Join(", ", result.FailingTypes?.Select(t => t.FullName) ?? []));
    }
}
