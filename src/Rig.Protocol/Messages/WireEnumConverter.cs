using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rig.Protocol.Messages;

/// <summary>Enums on the wire are their names only: a number (<c>7</c> or <c>"7"</c>) is refused, so an
/// undefined value such as <c>(CommandOutcome)7</c> can never be read from a message (CHECKLIST 1).</summary>
public sealed class WireEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(namingPolicy: null, allowIntegerValues: false)
    where TEnum : struct, Enum;
