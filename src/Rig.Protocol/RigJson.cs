using System.Text.Json;
using System.Text.Json.Serialization;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;

namespace Rig.Protocol;

/// <summary>The JSON contract: source-generated (the agent is published with Native AOT), camelCase,
/// duplicate keys refused, depth bounded. Only the types listed here can be read from the wire.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false,
    RespectRequiredConstructorParameters = true,
    RespectNullableAnnotations = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    MaxDepth = 32,
    WriteIndented = false)]
[JsonSerializable(typeof(ExchangeRequest))]
[JsonSerializable(typeof(ExchangeResponse))]
[JsonSerializable(typeof(EnrollRequest))]
[JsonSerializable(typeof(EnrollResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(Command))]
[JsonSerializable(typeof(CommandSpec))]
[JsonSerializable(typeof(CommandResult))]
[JsonSerializable(typeof(InventoryReport))]
[JsonSerializable(typeof(IReadOnlyList<NativePackage>))]
[JsonSerializable(typeof(List<CommandSpec>))]
[JsonSerializable(typeof(RigArchiveManifest))]
public sealed partial class RigJson : JsonSerializerContext
{
    /// <summary>Parse a JSON document of a contract type, turning every kind of bad input into one
    /// <see cref="ProtocolException"/> that says what was wrong.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> utf8, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string what)
    {
        ArgumentNullException.ThrowIfNull(info);
        T value;
        try
        {
            value = JsonSerializer.Deserialize(utf8, info) ?? throw new ProtocolException("bad-message", $"{what} is empty (JSON null); send a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ProtocolException("bad-message", $"{what} is not valid: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            // A polymorphic member without its discriminator leaves the abstract base type to create.
            throw new ProtocolException("bad-message", $"{what} is not valid: {e.Message}", e);
        }
        if (ContractChecks.Find(value) is { } problem)
            throw new ProtocolException("bad-message", $"{what} is not valid: {problem}.");
        return value;
    }
}

/// <summary>A message that breaks the contract: garbled, truncated, wrong types, duplicate keys, too deep. Not
/// retry-safe: the same message breaks it again.</summary>
public sealed class ProtocolException(string code, string message, Exception? inner = null) : Errors.RigException(code, message, retrySafe: false, inner);
