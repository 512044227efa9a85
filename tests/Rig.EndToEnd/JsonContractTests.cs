using System.Text.Json;
using Rig.Cli.Demo;
using Rig.EndToEnd.Harness;

namespace Rig.EndToEnd;

/// <summary>`--json` prints the operator API's own shapes: every field a command prints is the field the OpenAPI
/// document describes for the operation behind it, with the same name, and none is missing.</summary>
public sealed class JsonContractTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Rig.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Rig.slnx not found above the test directory.");
    }

    [Fact]
    public async Task Every_commands_json_output_has_the_fields_of_its_operations_schema_in_the_openapi_document()
    {
        using var dir = new TempDirectory();
        await using var gateway = await TestGateway.StartAsync(Path.Combine(dir.Path, "gateway"));
        string[] connection = ["--server", gateway.ApiUrl.ToString(), "--token", gateway.Token, "--ca", gateway.CaPath, "--json"];
        JsonElement openApi;
        using (var api = gateway.Api())
            openApi = await api.GetAsync<JsonElement>("openapi/v1.json");

        async Task<JsonElement> RigJsonAsync(int expectedExit, params string[] args)
        {
            var (code, stdout, stderr) = await Launch.RunAsync(TimeSpan.FromMinutes(2), [.. args, .. connection]);
            Assert.True(code == expectedExit, $"`rig {string.Join(' ', args)}` exited {code}, expected {expectedExit}: {stdout}{stderr}");
            return JsonDocument.Parse(stdout).RootElement.Clone(); // exactly one document
        }

        var packages = DemoSite.WritePackages(Path.Combine(dir.Path, "packages"));
        var checks = new List<(string Command, string OperationId, JsonElement Output)>
        {
            ("package add", "addPackage", (await RigJsonAsync(0, ["package", "add", .. packages]))[0]),
            ("apply", "apply", await RigJsonAsync(0, "apply", Path.Combine(RepoRoot(), "examples", "shop"), "-m", "the shop", "--yes")),
            ("status", "getStatus", await RigJsonAsync(0, "status")),
            ("device list", "listDevices", await RigJsonAsync(0, "device", "list")),
            ("device show", "getDevice", await RigJsonAsync(0, "device", "show", "lb-1")),
            ("package list", "listPackages", await RigJsonAsync(0, "package", "list")),
            ("history", "listRevisions", await RigJsonAsync(0, "history")),
            ("diff", "diffRevisions", await RigJsonAsync(0, "diff", "0", "1")),
            ("plan", "planStored", await RigJsonAsync(2, "plan")),
            ("drift", "getDrift", await RigJsonAsync(1, "drift")), // no agent has reported: exit 1, still the report
            ("model show", "getModelAsOf", await RigJsonAsync(0, "model", "show")),
            ("device token", "createEnrollmentToken", await RigJsonAsync(0, "device", "token", "lb-1", "-o", Path.Combine(dir.Path, "lb-1.token"))),
            ("device revoke", "revokeDevice", await RigJsonAsync(0, "device", "revoke", "lb-1")),
        };

        var problems = new List<string>();
        var compared = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (command, operationId, output) in checks)
            Compare(openApi, command, Resolve(openApi, SuccessSchema(openApi, operationId)), output, command, problems, compared);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // Every command's output was compared field by field (a schema without properties would compare nothing).
        Assert.Equal(checks.Select(c => c.Command).Order(), compared.Order());
    }

    private static JsonElement SuccessSchema(JsonElement openApi, string operationId)
    {
        foreach (var path in openApi.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Value.ValueKind != JsonValueKind.Object || !operation.Value.TryGetProperty("operationId", out var id) || id.GetString() != operationId)
                    continue;
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    if (response.Name.StartsWith('2') && response.Value.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var json))
                        return json.GetProperty("schema");
                }
            }
        }
        throw new Xunit.Sdk.XunitException($"The OpenAPI document has no operation '{operationId}' with a JSON success answer.");
    }

    private static JsonElement Resolve(JsonElement openApi, JsonElement schema)
    {
        for (var i = 0; i < 10; i++)
        {
            if (schema.TryGetProperty("$ref", out var reference))
            {
                schema = openApi.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..]);
                continue;
            }
            var composed = new[] { "allOf", "oneOf", "anyOf" }.Select(k => schema.TryGetProperty(k, out var list) ? list : default).FirstOrDefault(l => l.ValueKind == JsonValueKind.Array);
            if (composed.ValueKind == JsonValueKind.Array && composed.EnumerateArray().FirstOrDefault(s => s.TryGetProperty("$ref", out _) || s.TryGetProperty("properties", out _)) is { ValueKind: JsonValueKind.Object } part)
            {
                schema = part;
                continue;
            }
            return schema;
        }
        return schema;
    }

    private static bool IsArray(JsonElement schema) =>
        schema.TryGetProperty("type", out var type) && (type.ValueKind == JsonValueKind.String ? type.GetString() == "array" : type.EnumerateArray().Any(t => t.GetString() == "array"));

    /// <summary>Same field names at this level (and in the first items of arrays, and one level into objects).</summary>
    private static void Compare(JsonElement openApi, string command, JsonElement schema, JsonElement output, string where, List<string> problems, HashSet<string> compared, int depth = 0)
    {
        if (IsArray(schema))
        {
            if (output.ValueKind != JsonValueKind.Array)
            {
                problems.Add($"{command}: {where} is {output.ValueKind}, the API's schema says an array");
                return;
            }
            foreach (var item in output.EnumerateArray().Take(2))
                Compare(openApi, command, Resolve(openApi, schema.GetProperty("items")), item, where + "[]", problems, compared, depth);
            return;
        }
        if (!schema.TryGetProperty("properties", out var properties) || output.ValueKind != JsonValueKind.Object)
            return;
        compared.Add(command);
        var expected = properties.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var actual = output.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var extra in actual.Except(expected))
            problems.Add($"{command}: {where}.{extra} is printed but not in the API's schema ({string.Join(", ", expected.Order())})");
        foreach (var missing in expected.Except(actual))
            problems.Add($"{command}: {where}.{missing} is in the API's schema but not printed");
        if (depth >= 1)
            return;
        foreach (var property in output.EnumerateObject())
        {
            if (properties.TryGetProperty(property.Name, out var child) && property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                Compare(openApi, command, Resolve(openApi, child), property.Value, $"{where}.{property.Name}", problems, compared, depth + 1);
        }
    }
}
