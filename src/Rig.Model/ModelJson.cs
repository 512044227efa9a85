using System.Text.Json.Serialization;
using Rig.Model.Domain;
using Rig.Model.Planning;

namespace Rig.Model;

/// <summary>JSON form of the model (operator API, the store's model rows). Strict: unknown keys and duplicate
/// keys are refused.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true,
    MaxDepth = 64)]
[JsonSerializable(typeof(RigModel))]
[JsonSerializable(typeof(Site))]
[JsonSerializable(typeof(Customer))]
[JsonSerializable(typeof(List<ApprovalPolicy>))]
[JsonSerializable(typeof(Device))]
[JsonSerializable(typeof(Interconnection))]
[JsonSerializable(typeof(PackageInfo))]
[JsonSerializable(typeof(Bundle))]
[JsonSerializable(typeof(Role))]
[JsonSerializable(typeof(RoleAssignment))]
[JsonSerializable(typeof(ConfigTemplate))]
[JsonSerializable(typeof(RecordedState))]
[JsonSerializable(typeof(RecordedPackage))]
[JsonSerializable(typeof(RecordedFile))]
[JsonSerializable(typeof(RecordedService))]
[JsonSerializable(typeof(RecordedNetwork))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class ModelJson : JsonSerializerContext;
