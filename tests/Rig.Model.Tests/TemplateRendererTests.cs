using Rig.Model.Domain;
using Rig.Model.Planning;
using Rig.Model.Templates;

namespace Rig.Model.Tests;

/// <summary>Rendering templates for a device: interconnections, parameter layers, parameters as data, no HTML
/// encoding, missing parameters.</summary>
public class TemplateRendererTests
{
    private static TemplateResult Render(RigModel model, string device, string template, string? role = null)
    {
        var index = new ModelIndex(model);
        var d = index.Devices[device];
        var scope = TemplateScope.ForDevice(index, d, Parameters.Effective(index, d));
        if (role is not null)
            scope = scope.ForRole(index.Roles[role]);
        return new TemplateRenderer(index.Templates).Render(template, scope);
    }

    private static string RenderText(RigModel model, string device, string template, string? role = null)
    {
        var result = Render(model, device, template, role);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        Assert.Empty(result.Errors);
        return result.Text!;
    }

    private static RigModel WithProbe(RigModel model, string text) =>
        model with { Templates = [.. model.Templates, new ConfigTemplate("probe", text)] };

    // ---- interconnections ----------------------------------------------------------------------------

    [Fact]
    public void Load_balancer_config_lists_both_web_servers_it_links_to()
    {
        var text = RenderText(SampleModel.Build(), "lb-1", "lb-conf");

        Assert.Equal(
            "frontend www\n" +
            "  bind *:80\n" +
            "backend web\n" +
            "  server web-1 10.0.1.11:8080 check\n" +
            "  server web-2 10.0.1.12:8080 check\n",
            text);
    }

    [Fact]
    public void Load_balancer_config_lists_only_links_with_purpose_http()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("lb-1", "app-1", "monitor", 9100), SampleModel.Link("lb-1", "db-1", "backup")] };

        var text = RenderText(model, "lb-1", "lb-conf");

        Assert.Contains("server web-1 10.0.1.11:8080", text, StringComparison.Ordinal);
        Assert.Contains("server web-2 10.0.1.12:8080", text, StringComparison.Ordinal);
        Assert.DoesNotContain("app-1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("10.0.2.21", text, StringComparison.Ordinal);
        Assert.DoesNotContain("db-1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void New_web_server_linked_from_the_load_balancer_appears_in_its_config()
    {
        var model = SampleModel.Build();
        model = model with
        {
            Devices = [.. model.Devices, SampleModel.Device("web-3", "web", "10.0.1.13", "52:54:00:00:01:13")],
            Links = [.. model.Links, SampleModel.Link("lb-1", "web-3", "http", 8080)],
        };

        var text = RenderText(model, "lb-1", "lb-conf");

        Assert.Contains("  server web-3 10.0.1.13:8080 check\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Linked_from_lists_the_devices_that_link_to_this_one()
    {
        var model = SampleModel.Build();
        model = model with { Links = [.. model.Links, SampleModel.Link("web-1", "db-1", "backup")] };

        var text = RenderText(model, "db-1", "pg-hba");

        Assert.Equal(
            "host shop app 10.0.2.21/32 scram-sha-256\n" +
            "host shop app 10.0.2.22/32 scram-sha-256\n",
            text);
    }

    [Fact]
    public void Link_exposes_the_peers_name_hostname_address_tier_site_and_the_link_attributes()
    {
        var model = SampleModel.Build().WithDevice("db-1", d => d with { Hostname = "db1.acme.internal" });
        model = model with
        {
            Links = [.. model.Links.Where(l => l.From != "app-1"), SampleModel.Link("app-1", "db-1", "sql", 5432) with { Attributes = new Dictionary<string, string> { ["sslmode"] = "require" } }],
        };
        model = WithProbe(model, "{% for l in links %}{{ l.purpose }}|{{ l.name }}|{{ l.hostname }}|{{ l.address }}|{{ l.tier }}|{{ l.site }}|{{ l.port }}|{{ l.attributes.sslmode }}{% endfor %}");

        Assert.Equal("sql|db-1|db1.acme.internal|10.0.3.31|db|acme|5432|require", RenderText(model, "app-1", "probe"));
    }

    [Fact]
    public void Template_sees_the_device_its_site_and_the_role_of_the_file()
    {
        var model = SampleModel.Build().WithDevice("web-1", d => d with
        {
            Hostname = "www1",
            Facts = new Dictionary<string, string> { ["rack"] = "r12" },
        });
        model = WithProbe(model, "{{ device.name }} {{ device.hostname }} {{ device.tier }} {{ device.address }} {{ device.os_family }}/{{ device.architecture }} {{ device.cpu_count }} {{ device.memory_mib }} {{ device.facts.rack }} {{ device.nics[0].mac }} | {{ site.name }}: {{ site.description }} | {{ role.name }} {{ role.kind }} {{ role.version }}");

        Assert.Equal(
            "web-1 www1 web 10.0.1.11 debian/amd64 4 8192 r12 52:54:00:00:01:11 | acme: Acme web shop | shop-content content 2026.1",
            RenderText(model, "web-1", "probe", role: "shop-content"));
    }

    // ---- parameters ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("global")]
    [InlineData("site")]
    [InlineData("role")]
    [InlineData("device")]
    public void Each_parameter_layer_overrides_the_layers_below_it(string highest)
    {
        // Every layer up to the highest sets "level" to its own name: the highest must win.
        string[] layers = ["global", "site", "role", "device"];
        var set = layers.Take(Array.IndexOf(layers, highest) + 1).ToHashSet();
        static Dictionary<string, string> Level(string value) => new() { ["level"] = value };

        var model = WithProbe(SampleModel.Build(), "level={{ params.level }}");
        if (set.Contains("global"))
            model = model with { Parameters = new Dictionary<string, string>(model.Parameters) { ["level"] = "global" } };
        if (set.Contains("site"))
            model = model with { Sites = [model.Sites[0] with { Parameters = Level("site") }] };
        if (set.Contains("role"))
            model = model.WithRole("web", r => r with { Parameters = Level("role") });
        if (set.Contains("device"))
            model = model.WithDevice("web-1", d => d with { Parameters = Level("device") });

        Assert.Equal($"level={highest}", RenderText(model, "web-1", "probe"));
    }

    [Fact]
    public void Device_parameter_overrides_only_its_own_device()
    {
        var model = WithProbe(SampleModel.Build().WithDevice("web-1", d => d with { Parameters = new Dictionary<string, string> { ["http_port"] = "8080" } }), "{{ params.http_port }}");

        Assert.Equal("8080", RenderText(model, "web-1", "probe"));
        Assert.Equal("80", RenderText(model, "web-2", "probe"));
    }

    [Fact]
    public void Role_parameters_are_layered_in_kind_order_whatever_the_assignment_order()
    {
        var model = SampleModel.Build()
            .WithRole("linux-base", r => r with { Parameters = new Dictionary<string, string> { ["level"] = "os", ["os_only"] = "yes" } })
            .WithRole("web", r => r with { Parameters = new Dictionary<string, string> { ["level"] = "app" } })
            .WithRole("shop-content", r => r with { Parameters = new Dictionary<string, string> { ["level"] = "content" } });
        model = WithProbe(model with { Assignments = [.. model.Assignments.Reverse()] }, "{{ params.level }} {{ params.os_only }}");

        Assert.Equal("content yes", RenderText(model, "web-1", "probe"));
        Assert.Equal("os yes", RenderText(model, "lb-1", "probe"));
    }

    [Theory]
    [InlineData("{{ evil }}")]
    [InlineData("{{ params.http_port }}")]
    [InlineData("{% if true %}yes{% endif %}")]
    [InlineData("{% for i in (1..3) %}{{ i }}{% endfor %}")]
    [InlineData("{% include 'motd' %}")]
    public void Template_syntax_inside_a_parameter_value_is_output_literally(string value)
    {
        var model = WithProbe(SampleModel.Build().WithDevice("web-1", d => d with { Parameters = new Dictionary<string, string> { ["banner"] = value } }), "[{{ params.banner }}]");

        Assert.Equal($"[{value}]", RenderText(model, "web-1", "probe"));
    }

    [Fact]
    public void Output_is_not_html_encoded()
    {
        const string value = "<a href=\"/?a=1&b=2\">It's</a>";
        var model = WithProbe(
            SampleModel.Build().WithDevice("web-1", d => d with { Parameters = new Dictionary<string, string> { ["markup"] = value } }),
            "{{ params.markup }} {{ '<&>' }} \"literal\" & 'text'");

        Assert.Equal(value + " <&> \"literal\" & 'text'", RenderText(model, "web-1", "probe"));
    }

    [Fact]
    public void Every_missing_parameter_is_reported_by_name_once_with_the_device()
    {
        var model = WithProbe(SampleModel.Build(), "{{ params.tls_cert }} {{ params.http_port }} {{ params.tls_key }} {{ params.tls_cert }}");

        var result = Render(model, "web-2", "probe");

        Assert.False(result.Succeeded);
        Assert.Null(result.Text);
        var error = Assert.Single(result.Errors);
        Assert.Contains("'tls_cert', 'tls_key'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("http_port", error, StringComparison.Ordinal);
        Assert.Contains("device 'web-2'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_parameter_inside_a_loop_is_reported()
    {
        var model = WithProbe(SampleModel.Build(), "{% for l in links %}{{ l.name }}:{{ params.backend_weight }}\n{% endfor %}");

        var error = Assert.Single(Render(model, "lb-1", "probe").Errors);

        Assert.Contains("'backend_weight'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendering_an_unknown_template_is_an_error_naming_it()
    {
        var error = Assert.Single(Render(SampleModel.Build(), "web-1", "no-such").Errors);

        Assert.Contains("'no-such' does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendering_a_template_with_a_syntax_error_reports_the_line()
    {
        var model = WithProbe(SampleModel.Build(), "ok\n{{ params.http_port | }}\n");

        var error = Assert.Single(Render(model, "web-1", "probe").Errors);

        Assert.StartsWith("syntax error:", error, StringComparison.Ordinal);
        Assert.Matches(@"\(2:\d+\)", error);
    }

    [Fact]
    public void One_renderer_renders_the_same_template_for_different_devices()
    {
        var index = new ModelIndex(SampleModel.Build());
        var renderer = new TemplateRenderer(index.Templates);
        string RenderFor(string name)
        {
            var d = index.Devices[name];
            return renderer.Render("motd", TemplateScope.ForDevice(index, d, Parameters.Effective(index, d))).Text!;
        }

        Assert.Equal("Welcome to web-1 (acme), managed by rig\n", RenderFor("web-1"));
        Assert.Equal("Welcome to db-1 (acme), managed by rig\n", RenderFor("db-1"));
    }
}
