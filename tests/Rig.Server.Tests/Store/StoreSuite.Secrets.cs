using System.Text;
using Dapper;
using RigModel = Rig.Model.Domain.RigModel;
using SecretParameters = Rig.Model.Domain.SecretParameters;
using Site = Rig.Model.Domain.Site;
using Rig.Protocol.Messages;
using Rig.Server.Security;
using Rig.Server.Store;
using static Rig.Server.Tests.Store.StoreTestData;

namespace Rig.Server.Tests.Store;

public abstract partial class StoreSuite
{
    private const string DbPassword = "correct-horse-battery-staple";
    private const string ApiToken = "tok_9f8e7d6c5b4a";

    /// <summary>The sample model with two secret parameters: one global, one on a site.</summary>
    private static RigModel SecretModel(string password = DbPassword) => SampleModel() with
    {
        Secrets = ["api_token", "db_password"],
        Parameters = new Dictionary<string, string> { ["db_password"] = password, ["http_port"] = "80", ["motd_banner"] = "managed by rig" },
        Sites = [new Site { Name = "acme", Description = "Acme shop", Parameters = new Dictionary<string, string> { ["api_token"] = ApiToken, ["site_title"] = "Acme" } }],
    };

    private static SecretBox NewBox() => new(SecretBox.NewKey());

    /// <summary>Every text value of every column of every table, as the database holds it (PostgreSQL: each column cast
    /// to text; SQLite: the same, plus the database file and its WAL as bytes).</summary>
    private async Task<string> EverythingStoredAsync()
    {
        await using var connection = await OpenRawAsync();
        var text = new StringBuilder();
        var columns = ExpectedEngine == StoreEngine.Postgres
            ? (await connection.QueryAsync<(string Table, string Column)>(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()")).ToList()
            : (await connection.QueryAsync<(string Table, string Column)>(
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'")).ToList();
        foreach (var (table, column) in columns)
        {
            var cast = ExpectedEngine == StoreEngine.Postgres ? $"\"{column}\"::text" : $"CAST(\"{column}\" AS TEXT)";
            foreach (var value in await connection.QueryAsync<string?>($"SELECT {cast} FROM \"{table}\""))
                text.Append(value).Append('\n');
        }
        if (ExpectedEngine == StoreEngine.Sqlite)
        {
            var file = ConnectionString["Data Source=".Length..];
            foreach (var path in new[] { file, file + "-wal" }.Where(File.Exists))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var copy = new MemoryStream();
                await stream.CopyToAsync(copy);
                text.Append(Encoding.UTF8.GetString(copy.ToArray())).Append(Encoding.Unicode.GetString(copy.ToArray()));
            }
        }
        return text.ToString();
    }

    [Fact]
    public async Task A_secret_value_is_sealed_in_its_model_row_and_the_loaded_model_has_the_plaintext()
    {
        Store.Secrets = NewBox();

        await Store.SaveModelAsync(SecretModel(), "alice", "secrets");

        var stored = await EverythingStoredAsync();
        Assert.DoesNotContain(DbPassword, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiToken, stored, StringComparison.Ordinal);
        Assert.Contains($"rigsecret:v1:{Store.Secrets.KeyId}:", stored, StringComparison.Ordinal);
        var (_, loaded) = await Store.LoadModelAsync();
        Assert.Equal(DbPassword, loaded.Parameters["db_password"]);
        Assert.Equal(ApiToken, loaded.Sites.Single().Parameters["api_token"]);
        Assert.Equal(["api_token", "db_password"], loaded.Secrets);
    }

    [Fact]
    public async Task Saving_the_same_secret_values_again_records_no_revision_and_a_changed_one_does()
    {
        Store.Secrets = NewBox();
        var first = await Store.SaveModelAsync(SecretModel(), "alice", "secrets");

        var again = await Store.SaveModelAsync(SecretModel(), "alice", "same");
        var changed = await Store.SaveModelAsync(SecretModel("another-long-password"), "alice", "new password");

        Assert.False(again.Changed);
        Assert.Equal(first.Rev, again.Rev);
        Assert.True(changed.Changed);
        Assert.Equal(1, changed.Modified);
        var diff = await Store.DiffAsync(first.Rev, changed.Rev);
        var text = string.Join("\n", diff.Select(d => d.Before + d.After));
        Assert.DoesNotContain(DbPassword, text, StringComparison.Ordinal);
        Assert.DoesNotContain("another-long-password", text, StringComparison.Ordinal);
        Assert.Contains(SecretParameters.Placeholder, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_secret_in_a_queued_write_file_is_sealed_at_rest_and_delivered_in_plaintext_to_the_agent()
    {
        Store.Secrets = NewBox();
        await Store.SaveModelAsync(SecretModel(), "alice", "secrets");
        var write = WriteFile("/etc/app/db.conf", $"password={DbPassword}\n");
        var created = await Store.CreateQueueAsync(Device, [write, WriteFile("/etc/motd", "hello\n")], "converge", 1);

        var stored = await EverythingStoredAsync();
        var response = await Store.ExchangeAsync(Device, Inquiry(), MaxDeliveries);
        var shown = await Store.GetCommandsAsync(created.Created!.Id);

        Assert.DoesNotContain(DbPassword, stored, StringComparison.Ordinal);
        Assert.Contains("hello", stored, StringComparison.Ordinal); // only what holds a secret is sealed
        var delivered = Assert.IsType<WriteFileCommand>(response.Command!.Spec);
        Assert.Equal($"password={DbPassword}\n", delivered.Content);
        Assert.Equal($"password={SecretParameters.Placeholder}\n", Assert.IsType<WriteFileCommand>(shown[0].Spec).Content);
        var contents = await Store.RenderedContentsAsync([((WriteFileCommand)write.Spec).Sha256]);
        Assert.Equal($"password={DbPassword}\n", contents.Values.Single()); // plan diffs read it back (and mask it)
    }

    [Fact]
    public async Task Command_output_that_echoes_a_secret_is_stored_masked()
    {
        Store.Secrets = NewBox();
        await Store.SaveModelAsync(SecretModel(), "alice", "secrets");
        var write = WriteFile("/etc/app/db.conf", $"password={DbPassword}\n");
        await Store.CreateQueueAsync(Device, [write], "converge", 1);
        await Store.ExchangeAsync(Device, Inquiry(), MaxDeliveries);

        await Store.ExchangeAsync(Device, Report(new CommandResult
        {
            CommandId = write.Id, Outcome = CommandOutcome.Failed, Error = $"cannot use {DbPassword}", ErrorCode = "test-failure", Output = $"echo {DbPassword}",
        }), MaxDeliveries);

        Assert.DoesNotContain(DbPassword, await EverythingStoredAsync(), StringComparison.Ordinal);
        Assert.Contains($"echo {SecretParameters.Placeholder}", string.Join("\n", await QueryAsync<string>("SELECT result FROM commands WHERE result IS NOT NULL")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotating_the_key_reseals_every_revision_and_command_and_no_value_sealed_with_the_old_key_remains()
    {
        var old = NewBox();
        Store.Secrets = old;
        await Store.SaveModelAsync(SecretModel(), "alice", "r1");
        await Store.SaveModelAsync(SecretModel("second-long-password"), "alice", "r2");
        await Store.CreateQueueAsync(Device, [WriteFile("/etc/app/db.conf", $"password={DbPassword}\n")], "converge", 2);
        var next = NewBox();

        var rotation = await Store.ResealAllAsync(old, next);

        Assert.Equal(3, rotation.Values); // db_password in r1 and r2, api_token in the site row both revisions share
        Assert.Equal(1, rotation.Commands);
        Assert.Equal(1, rotation.RenderedFiles);
        var stored = await EverythingStoredAsync();
        Assert.DoesNotContain(old.KeyId, stored, StringComparison.Ordinal);
        Assert.Contains(next.KeyId, stored, StringComparison.Ordinal);
        await using var reopened = await OpenStoreAsync();
        reopened.Secrets = new SecretBox(SecretBox.NewKey()); // not the key: refused, naming the key it needs
        var refused = await Assert.ThrowsAsync<SecretKeyException>(() => reopened.OpenAllSecretsAsync());
        Assert.Contains(next.KeyId, refused.Message, StringComparison.Ordinal);
        reopened.Secrets = next;
        await reopened.OpenAllSecretsAsync();
        Assert.Equal(DbPassword, (await reopened.LoadModelAsync(1)).Model.Parameters["db_password"]);
        Assert.Equal("second-long-password", (await reopened.LoadModelAsync(2)).Model.Parameters["db_password"]);
        var delivered = await reopened.ExchangeAsync(Device, Inquiry(), MaxDeliveries);
        Assert.Equal($"password={DbPassword}\n", Assert.IsType<WriteFileCommand>(delivered.Command!.Spec).Content);
    }

    [Fact]
    public async Task A_sealed_value_moved_to_another_parameter_does_not_open()
    {
        Store.Secrets = NewBox();
        await Store.SaveModelAsync(SecretModel(), "alice", "secrets");
        var site = (await QueryAsync<string>("SELECT body FROM model_entities WHERE kind = 'site'")).Single();
        var global = (await QueryAsync<string>("SELECT body FROM model_entities WHERE kind = 'parameters'")).Single();
        var sealedToken = System.Text.RegularExpressions.Regex.Match(site, "rigsecret:v1:[^\"]+").Value;
        var moved = System.Text.RegularExpressions.Regex.Replace(global, "rigsecret:v1:[^\"]+", sealedToken);
        await ExecuteAsync("UPDATE model_entities SET body = @moved WHERE kind = 'parameters'", new { moved });

        var refused = await Assert.ThrowsAsync<SecretKeyException>(() => Store.LoadModelAsync());

        Assert.Contains("param/parameters/*/db_password", refused.Message, StringComparison.Ordinal);
        Assert.Contains("moved", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_without_a_key_refuses_to_save_or_read_secret_values_with_what_to_do()
    {
        Store.Secrets = NewBox();
        await Store.SaveModelAsync(SecretModel(), "alice", "secrets");
        await using var keyless = await OpenStoreAsync();

        var read = await Assert.ThrowsAsync<SecretKeyException>(() => keyless.LoadModelAsync());
        var save = await Assert.ThrowsAsync<SecretKeyException>(() => keyless.SaveModelAsync(SecretModel("third-long-password"), "bob", "x"));

        Assert.Contains(SecretsKeyFile.FileName, read.Message, StringComparison.Ordinal);
        Assert.Contains(SecretsKeyFile.KeyVariable, save.Message, StringComparison.Ordinal);
    }
}
