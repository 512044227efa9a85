using System.Text.Json;
using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Validation;

namespace Rig.Model.Tests;

/// <summary>The model's JSON form: what an operator may leave out gets its default, never a null that fails later.</summary>
public sealed class ModelJsonTests
{
    [Fact]
    public void Minimal_model_json_gets_defaults_for_everything_left_out()
    {
        const string json = """
            {"sites":[{"name":"s"}],"devices":[{"name":"d1","site":"s"}],
             "templates":[{"name":"t","text":"x"}],
             "roles":[{"name":"r","kind":"os","items":[{"type":"file","path":"/etc/x","template":"t"},{"type":"service","name":"svc"}]}],
             "assignments":[{"device":"d1","role":"r"}]}
            """;

        var model = JsonSerializer.Deserialize(json, ModelJson.Default.RigModel)!;

        Assert.Empty(model.Bundles);
        Assert.Empty(model.Links);
        Assert.Empty(model.Parameters);
        Assert.Empty(model.Sites[0].Parameters);
        var device = model.Devices[0];
        Assert.Equal(("linux", "amd64"), (device.OsFamily, device.Architecture));
        Assert.NotNull(device.Hardware);
        Assert.Empty(device.Hardware.Nics);
        Assert.Empty(device.Facts);
        Assert.Equal("1", model.Roles[0].Version);
        var file = Assert.IsType<FileItem>(model.Roles[0].Items[0]);
        Assert.Equal(("0644", "root", "root"), (file.Mode, file.Owner, file.Group));
        Assert.True(Assert.IsType<ServiceItem>(model.Roles[0].Items[1]) is { Running: true, Enabled: true });

        // ...and it validates and plans without any null surprises.
        Assert.Empty(ModelValidator.Validate(model));
        var index = new ModelIndex(model);
        Assert.True(Planner.Plan(new DesiredStateBuilder(index).Build("d1"), RecordedState.Empty, index.KindOrder).IsValid);
    }

    [Fact]
    public void Recorded_state_json_without_lists_reads_as_empty()
    {
        var state = JsonSerializer.Deserialize("{}", ModelJson.Default.RecordedState)!;

        Assert.Empty(state.Packages);
        Assert.Empty(state.Files);
        Assert.Empty(state.Services);
    }
}
