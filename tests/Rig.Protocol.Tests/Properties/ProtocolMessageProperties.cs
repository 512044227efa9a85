using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CsCheck;
using Rig.Protocol.Archives;
using Rig.Protocol.Messages;

namespace Rig.Protocol.Tests.Properties;

/// <summary>CHECKLIST 1 and 2, as properties: whatever bytes arrive, <see cref="RigJson.Parse"/> returns a message that
/// passes <see cref="ContractChecks"/> or throws <see cref="ProtocolException"/>; never another exception, which the
/// endpoint would turn into a server error that the peer retries for ever.</summary>
public sealed class ProtocolMessageProperties
{
    /// <summary>A wire type, its contract metadata and a generator of valid instances.</summary>
    private sealed record Wire(string Name, Func<byte[], object> Parse, Func<object, byte[]> Write, Gen<byte[]> Valid);

    private static Wire Of<T>(JsonTypeInfo<T> info, Gen<T> valid) where T : class => new(
        typeof(T).Name,
        bytes => RigJson.Parse(bytes, info, typeof(T).Name),
        value => JsonSerializer.SerializeToUtf8Bytes((T)value, info),
        valid.Select(v => JsonSerializer.SerializeToUtf8Bytes(v, info)));

    private static readonly Wire[] Wires =
    [
        Of(RigJson.Default.ExchangeRequest, MessageGen.ExchangeRequest),
        Of(RigJson.Default.EnrollRequest, MessageGen.EnrollRequest),
        Of(RigJson.Default.ExchangeResponse, MessageGen.ExchangeResponse),
        Of(RigJson.Default.EnrollResponse, Gen.Select(MessageGen.Ident(63), MessageGen.FreeText, MessageGen.FreeText,
            (d, c, ca) => new EnrollResponse { Device = d, CertificatePem = c, CaCertificatePem = ca })),
        Of(RigJson.Default.ErrorResponse, Gen.Select(MessageGen.Ident(64), MessageGen.FreeText, Gen.Bool, (c, m, r) => new ErrorResponse(c, m, r))),
        Of(RigJson.Default.RigArchiveManifest, Gen.Select(MessageGen.Ident(40), MessageGen.Ident(40), MessageGen.Ident(40).Select(p => new RigArchiveFile("/" + p, new string('a', 64))).List[0, 3],
            (n, v, files) => new RigArchiveManifest { Name = n, Version = v, Files = files })),
    ];

    private static readonly Gen<Wire> AnyWire = Gen.Int[0, Wires.Length - 1].Select(i => Wires[i]);

    /// <summary>Random bytes, JSON-like token soup, and valid messages damaged (of any wire type, read as any wire type).</summary>
    private static readonly Gen<byte[]> Hostile = Gen.Frequency(
        (1, Gen.Byte.Array[0, 200]),
        (3, MessageGen.TokenSoup),
        (6, AnyWire.SelectMany(w => MessageGen.Mutated(w.Valid))));

    /// <summary>Parse, and prove the outcome is one of the two allowed: a message that passes the contract checks and
    /// is accepted again once written back, or <see cref="ProtocolException"/>.</summary>
    /// <returns>True when the bytes were accepted.</returns>
    private static bool AssertParsesOrIsRefused(Wire wire, byte[] bytes)
    {
        object message;
        try
        {
            message = wire.Parse(bytes);
        }
        catch (ProtocolException e)
        {
            Assert.Equal("bad-message", e.Code);
            return false;
        }
        Assert.Null(ContractChecks.Find(message));
        var written = wire.Write(message);
        Assert.Equal(written, wire.Write(wire.Parse(written)));
        return true;
    }

    [Fact]
    public void Any_bytes_parse_to_a_valid_message_or_throw_ProtocolException()
    {
        var accepted = 0;
        var refused = 0;
        Gen.Select(AnyWire, Hostile).Sample((wire, bytes) => Interlocked.Increment(ref AssertParsesOrIsRefused(wire, bytes) ? ref accepted : ref refused), iter: 4000,
            print: t => $"{t.Item1.Name} <- {Convert.ToBase64String(t.Item2)} ({Encoding.UTF8.GetString(t.Item2)})");
        // Both branches ran: some damage leaves a valid message (a changed letter in a string), most does not.
        Assert.True(accepted > 0 && refused > 0, $"accepted {accepted}, refused {refused}");
    }

    [Fact]
    public void Generated_valid_messages_round_trip_through_write_and_parse()
    {
        AnyWire.SelectMany(w => w.Valid.Select(bytes => (w, bytes))).Sample(t =>
        {
            var (wire, bytes) = t;
            var parsed = wire.Parse(bytes);
            Assert.Equal(bytes, wire.Write(parsed));
        }, iter: 1500, print: t => $"{t.w.Name}: {Encoding.UTF8.GetString(t.bytes)}");
    }

    [Fact]
    public void A_generated_exchange_request_is_read_back_field_by_field()
    {
        MessageGen.ExchangeRequest.Sample(request =>
        {
            var back = RigJson.Parse(JsonSerializer.SerializeToUtf8Bytes(request, RigJson.Default.ExchangeRequest), RigJson.Default.ExchangeRequest, "request");
            Assert.Equal((request.Device, request.RequestId, request.Reason, request.PokePort, request.PokeHost, request.MaxCommands, request.Inquire),
                (back.Device, back.RequestId, back.Reason, back.PokePort, back.PokeHost, back.MaxCommands, back.Inquire));
            Assert.Equal(request.AllResults, back.AllResults);
            Assert.Equal(request.Inventory?.Packages ?? [], back.Inventory?.Packages ?? []);
        }, iter: 500);
    }

    [Fact]
    public void A_key_repeated_anywhere_in_a_valid_message_is_refused()
    {
        Gen.Select(AnyWire.SelectMany(w => w.Valid.Select(bytes => (w, bytes))), Gen.Int[0, int.MaxValue]).Sample((t, pick) =>
        {
            var (wire, bytes) = t;
            var properties = PropertySpans(bytes);
            Assert.NotEmpty(properties); // Every wire type has a required member.
            var (start, end) = properties[pick % properties.Count];
            byte[] repeated = [.. bytes[..start], .. bytes[start..end], (byte)',', .. bytes[start..]];

            var e = Assert.Throws<ProtocolException>(() => wire.Parse(repeated));
            Assert.Contains("duplicate", e.Message, StringComparison.OrdinalIgnoreCase);
        }, iter: 1500, print: t => $"{t.Item1.w.Name}: {Encoding.UTF8.GetString(t.Item1.bytes)} pick {t.Item2}");
    }

    [Fact]
    public void Input_nested_at_any_depth_is_refused_with_ProtocolException()
    {
        var opener = Gen.OneOf(Gen.Const("["), Gen.Const("{\"a\":"), Gen.Const("{\"device\":"), Gen.Const("{\"results\":["));
        Gen.Select(AnyWire, opener.Array[33, 2000], Gen.Bool).Sample((wire, openers, closed) =>
        {
            var text = new StringBuilder(string.Concat(openers));
            if (closed)
            {
                text.Append('1');
                foreach (var o in openers.Reverse())
                    text.Append(o == "[" ? "]" : o == "{\"results\":[" ? "]}" : "}");
            }
            Assert.Throws<ProtocolException>(() => wire.Parse(Encoding.UTF8.GetBytes(text.ToString())));
        }, iter: 300, print: t => $"{t.Item1.Name}: depth {t.Item2.Length}, closed {t.Item3}");
    }

    /// <summary>The byte range <c>"name":value</c> of every property of every object in <paramref name="json"/>.</summary>
    private static List<(int Start, int End)> PropertySpans(byte[] json)
    {
        var spans = new List<(int, int)>();
        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
                continue;
            var start = (int)reader.TokenStartIndex;
            var copy = reader;
            copy.Read();
            copy.Skip();
            spans.Add((start, (int)copy.BytesConsumed));
        }
        return spans;
    }
}
