using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    private static readonly string[] Tables =
        ["model_revisions", "model_entities", "packages", "device_runtime", "certificates", "enrollment_tokens", "operator_tokens", "queues", "commands", "approvals"];

    // ---- migrations ----------------------------------------------------------------------------

    [Fact]
    public async Task Migrations_are_applied_and_the_schema_version_is_the_newest_migration()
    {
        var folder = ExpectedEngine == StoreEngine.Postgres ? "postgres" : "sqlite";
        var versions = typeof(RigStore).Assembly.GetManifestResourceNames()
            .Where(n => n.Contains($".Store.Migrations.{folder}.", StringComparison.Ordinal))
            .Select(n => long.Parse(n.Split($".Store.Migrations.{folder}.")[1].AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        Assert.NotEmpty(versions);

        var version = await Store.SchemaVersionAsync();

        Assert.True(version > 0);
        Assert.Equal(versions.Max(), version);
        Assert.Equal(versions.Count, await ScalarAsync("SELECT COUNT(*) FROM schema_migrations"));
        foreach (var table in Tables)
            Assert.Equal(0, await ScalarAsync($"SELECT COUNT(*) FROM {table}"));
    }

    [Fact]
    public async Task Opening_the_store_again_applies_nothing_twice_and_keeps_the_data()
    {
        await Store.SaveModelAsync(SampleModel(), "alice", "first");
        var version = await Store.SchemaVersionAsync();
        var applied = await ScalarAsync("SELECT COUNT(*) FROM schema_migrations");

        await using (var again = await OpenStoreAsync())
        {
            Assert.Equal(version, await again.SchemaVersionAsync());
            Assert.Equal(Json(SampleModel()), Json((await again.LoadModelAsync()).Model));
        }
        await using (var third = await OpenStoreAsync())
            Assert.Equal(version, await third.SchemaVersionAsync());

        Assert.Equal(applied, await ScalarAsync("SELECT COUNT(*) FROM schema_migrations"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM model_revisions"));
    }

    // ---- model revisions -----------------------------------------------------------------------

    [Fact]
    public async Task Saving_a_model_makes_a_new_revision_with_a_row_per_object()
    {
        var model = SampleModel();

        var saved = await Store.SaveModelAsync(model, "alice", "initial import");

        // 1 site + 3 devices + 2 links + 2 bundles + 2 roles + 4 assignments + 2 templates + role kinds + parameters
        const int objects = 18;
        Assert.Equal(new ModelSaveResult(1, true, objects, 0, 0), saved);
        Assert.Equal(objects, await ScalarAsync("SELECT COUNT(*) FROM model_entities WHERE rev_from = 1 AND rev_to IS NULL"));
        var (rev, loaded) = await Store.LoadModelAsync();
        Assert.Equal(1, rev);
        Assert.Equal(Json(model), Json(loaded));
    }

    [Fact]
    public async Task Saving_the_same_model_again_makes_no_revision()
    {
        await Store.SaveModelAsync(SampleModel(), "alice", "initial import");
        Clock.Advance(TimeSpan.FromMinutes(5));

        var again = await Store.SaveModelAsync(SampleModel(), "bob", "no change");

        Assert.Equal(new ModelSaveResult(1, false, 0, 0, 0), again);
        Assert.Single(await Store.RevisionsAsync());
        Assert.Equal(18, await ScalarAsync("SELECT COUNT(*) FROM model_entities"));
    }

    [Fact]
    public async Task A_save_expecting_a_plans_revision_and_device_states_saves_nothing_when_either_moved_and_names_it()
    {
        var model = SampleModel();
        await Store.SaveModelAsync(model, "alice", "initial import");
        RigModel Tier(string tier) => model with { Devices = [.. model.Devices.Select(d => d.Name == "web-2" ? d with { Tier = tier } : d)] };
        var empty = RigStore.Fingerprint(RecordedState.Empty, null);
        var planned = new ModelSaveExpectation(1, new Dictionary<string, string> { ["web-1"] = empty, ["web-2"] = empty });

        // web-1's recorded state changes after the plan.
        await Store.SetRecordedStateAsync("web-1", new RecordedState
        {
            Files = new Dictionary<string, RecordedFile> { ["/etc/motd"] = new("/etc/motd", new string('a', 64), "0644", "root", "root", "os") },
        });
        var (saved, moved) = await Store.SaveModelAsync(Tier("canary"), "bob", "planned", planned);
        Assert.Null(saved);
        Assert.Equal([("plan.device-moved", "devices/web-1")], moved.Select(m => (m.Code, m.Where)));
        Assert.Single(await Store.RevisionsAsync());

        // Another save moves the model on.
        await Store.SaveModelAsync(Tier("other"), "carol", "in between");
        var web1 = RigStore.Fingerprint((await Store.GetDeviceRuntimeAsync("web-1"))!.Recorded, null);
        (saved, moved) = await Store.SaveModelAsync(Tier("canary"), "bob", "planned", new ModelSaveExpectation(1, new Dictionary<string, string> { ["web-1"] = web1 }));
        Assert.Null(saved);
        var error = Assert.Single(moved);
        Assert.Equal("plan.revision-moved", error.Code);
        Assert.Contains("revision 2 now", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await Store.RevisionsAsync()).Count);

        // Nothing moved since: saved.
        (saved, moved) = await Store.SaveModelAsync(Tier("canary"), "bob", "planned", new ModelSaveExpectation(2, new Dictionary<string, string> { ["web-1"] = web1, ["web-2"] = empty }));
        Assert.Empty(moved);
        Assert.Equal(new ModelSaveResult(3, true, 0, 1, 0), saved);
    }

    [Fact]
    public async Task Saving_an_empty_model_first_still_makes_revision_one()
    {
        var saved = await Store.SaveModelAsync(new RigModel(), "alice", "empty");

        Assert.Equal(new ModelSaveResult(1, true, 0, 0, 0), saved);
        Assert.Equal(new ModelSaveResult(1, false, 0, 0, 0), await Store.SaveModelAsync(new RigModel(), "alice", "empty again"));
    }

    [Fact]
    public async Task A_change_to_one_device_closes_only_that_row()
    {
        var model = SampleModel();
        await Store.SaveModelAsync(model, "alice", "initial import");
        var changed = model with { Devices = [.. model.Devices.Select(d => d.Name == "web-2" ? d with { Tier = "web-canary" } : d)] };

        var saved = await Store.SaveModelAsync(changed, "alice", "web-2 is a canary");

        Assert.Equal(new ModelSaveResult(2, true, 0, 1, 0), saved);
        var closed = await QueryAsync<(string Kind, string Name, long RevFrom)>("SELECT kind, name, rev_from FROM model_entities WHERE rev_to IS NOT NULL");
        Assert.Equal([("device", "web-2", 1L)], closed);
        var opened = await QueryAsync<(string Kind, string Name)>("SELECT kind, name FROM model_entities WHERE rev_from = 2");
        Assert.Equal([("device", "web-2")], opened);
        Assert.Equal(18, await ScalarAsync("SELECT COUNT(*) FROM model_entities WHERE rev_to IS NULL"));
    }

    [Fact]
    public async Task Loading_a_revision_reconstructs_that_revision_exactly()
    {
        var v1 = SampleModel();
        var v2 = Canonical(v1 with
        {
            Devices = [.. v1.Devices.Select(d => d.Name == "web-1" ? d with { Addresses = ["10.0.1.99"] } : d)],
            Links = [.. v1.Links.Where(l => l.To != "web-2")],
            Templates = [.. v1.Templates, new ConfigTemplate("index", "<h1>{{ params.site_title }}</h1>\n")],
            Parameters = new Dictionary<string, string> { ["http_port"] = "8080", ["motd_banner"] = "managed by rig" },
        });
        var v3 = Canonical(v2 with
        {
            Devices = [.. v2.Devices.Where(d => d.Name != "web-2"), MakeDevice("web-3", "web", "10.0.1.13")],
            Assignments = [.. v2.Assignments.Where(a => a.Device != "web-2"), new RoleAssignment("web-3", "web")],
            RoleKinds = [],
        });
        Assert.Equal(new ModelSaveResult(1, true, 18, 0, 0), await Store.SaveModelAsync(v1, "alice", "v1"));
        Assert.Equal(new ModelSaveResult(2, true, 1, 2, 1), await Store.SaveModelAsync(v2, "bob", "v2"));
        Assert.Equal(new ModelSaveResult(3, true, 2, 0, 3), await Store.SaveModelAsync(v3, "carol", "v3"));

        Assert.Equal(Json(v1), Json((await Store.LoadModelAsync(1)).Model));
        Assert.Equal(Json(v2), Json((await Store.LoadModelAsync(2)).Model));
        Assert.Equal(Json(v3), Json((await Store.LoadModelAsync(3)).Model));
        var (rev, current) = await Store.LoadModelAsync();
        Assert.Equal(3, rev);
        Assert.Equal(Json(v3), Json(current));
        Assert.Equal(Json(new RigModel()), Json((await Store.LoadModelAsync(0)).Model));
    }

    [Fact]
    public async Task Revisions_are_listed_newest_first_with_author_message_and_time()
    {
        var t1 = Clock.Now;
        await Store.SaveModelAsync(SampleModel(), "alice", "initial import");
        Clock.Advance(TimeSpan.FromHours(1));
        var t2 = Clock.Now;
        await Store.SaveModelAsync(SampleModel() with { Parameters = new Dictionary<string, string> { ["http_port"] = "81" } }, "bob", "port 81");
        Clock.Advance(TimeSpan.FromHours(1));
        var t3 = Clock.Now;
        await Store.SaveModelAsync(SampleModel(), "carol", "back to 80");

        var revisions = await Store.RevisionsAsync();

        Assert.Equal(
            [new ModelRevision(3, "carol", "back to 80", t3), new ModelRevision(2, "bob", "port 81", t2), new ModelRevision(1, "alice", "initial import", t1)],
            revisions);
        // Back to v1's content is a new revision, not a reuse of revision 1.
        Assert.Equal(Json(SampleModel()), Json((await Store.LoadModelAsync(3)).Model));
    }

    // ---- package catalog -----------------------------------------------------------------------

    [Fact]
    public async Task An_added_package_is_in_the_catalog_and_in_the_loaded_model()
    {
        var nginx = Package("nginx", "1.24.0", service: "nginx");
        var kernel = Package("kernel", "6.1", reboot: true);
        await Store.SaveModelAsync(SampleModel(), "alice", "initial import");

        Assert.Equal((PackageAddOutcome.Added, nginx), await Store.AddPackageAsync(nginx, "{}"));
        Assert.Equal((PackageAddOutcome.Added, kernel), await Store.AddPackageAsync(kernel, "{}"));

        Assert.Equal([kernel, nginx], await Store.ListPackagesAsync());
        Assert.True(await Store.IsKnownBlobAsync(nginx.Sha256));
        Assert.False(await Store.IsKnownBlobAsync(Digest("something else")));
        var (rev, model) = await Store.LoadModelAsync();
        Assert.Equal(1, rev);
        Assert.Equal([kernel, nginx], model.Packages);
        // The catalog is not part of a revision: adding packages made none.
        Assert.Single(await Store.RevisionsAsync());
    }

    [Fact]
    public async Task Adding_the_same_package_and_digest_again_is_already_present()
    {
        var nginx = Package("nginx", "1.24.0");
        await Store.AddPackageAsync(nginx, "{}");

        var again = await Store.AddPackageAsync(nginx with { Size = 1 }, "{\"other\":true}");

        Assert.Equal((PackageAddOutcome.AlreadyPresent, nginx), again);
        Assert.Equal([nginx], await Store.ListPackagesAsync());
    }

    [Fact]
    public async Task The_same_name_and_version_with_another_digest_is_a_conflict_naming_the_existing_digest()
    {
        var nginx = Package("nginx", "1.24.0");
        await Store.AddPackageAsync(nginx, "{}");
        var impostor = Package("nginx", "1.24.0", digestLabel: "rebuilt nginx");

        var (outcome, existing) = await Store.AddPackageAsync(impostor, "{}");

        Assert.Equal(PackageAddOutcome.Conflict, outcome);
        Assert.Equal(nginx.Sha256, existing.Sha256);
        Assert.Equal([nginx], await Store.ListPackagesAsync());
        Assert.False(await Store.IsKnownBlobAsync(impostor.Sha256));
        Assert.Equal((PackageAddOutcome.Added, impostor with { Version = "1.24.0-1" }), await Store.AddPackageAsync(impostor with { Version = "1.24.0-1" }, "{}"));
    }
}
