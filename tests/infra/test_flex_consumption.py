"""Nothing Flex Consumption rejects or ignores reaches the function app.

The Azure type of Microsoft.Web/sites still declares these properties, so only the service's
documentation tells: functions-app-settings, "Flex Consumption plan deprecations" (docs dated
2025-12-22). A deployment carrying siteConfig.ftpsState fails with "The following site configuration
properties (Site.SiteConfig.FtpsState, ...) for Flex Consumption sites is invalid"
(microsoft/azure-pipelines-tasks#21032).
"""

from __future__ import annotations

from tests.infra.bicep_tree import parse, resources, single
from tests.infra.test_app_settings import _code_settings, _module_settings

DEPRECATED_APP_SETTINGS = {
    "ENABLE_ORYX_BUILD",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTOVERVNET",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_DNS_SERVER",
    "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_SKIP_CONTENTSHARE_VALIDATION",
    "WEBSITE_VNET_ROUTE_ALL",
}
# "properties.X" in the table: a site property or a siteConfig property, depending on X.
DEPRECATED_SITE_PROPERTIES = {
    "alwaysOn",
    "containerSize",
    "dnsConfiguration",
    "ftpsState",
    "isReserved",
    "reserved",
    "IsXenon",
    "javaVersion",
    "LinuxFxVersion",
    "netFrameworkVersion",
    "powerShellVersion",
    "functionAppScaleLimit",
    "preWarmedInstanceCount",
    "use32BitWorkerProcess",
    "vnetBackupRestoreEnabled",
    "vnetContentShareEnabled",
    "vnetImagePullEnabled",
    "vnetRouteAllEnabled",
    "windowsFxVersion",
}


def _lower(names) -> set[str]:
    return {name.strip("'").lower() for name in names}


def test_no_deprecated_property_on_the_app_or_its_site_config():
    site = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body
    properties = site["properties"]
    used = _lower(properties) | _lower(properties.get("siteConfig", {}))
    assert used & _lower(DEPRECATED_SITE_PROPERTIES) == set()


def test_no_deprecated_app_setting():
    names = set(_code_settings()) | set(_module_settings())
    assert _lower(names) & _lower(DEPRECATED_APP_SETTINGS) == set()


def test_no_site_config_resource_or_app_settings_inside_the_site():
    tree = parse("modules/functionapp.bicep")
    configs = [r.body["name"] for r in resources(tree, "Microsoft.Web/sites/config")]
    assert configs == ["appsettings"], "a 'web' config resource would carry siteConfig properties past this test"
    site = single(tree, "Microsoft.Web/sites").body
    assert "appSettings" not in site["properties"].get("siteConfig", {})


def test_the_runtime_and_scale_live_in_function_app_config():
    config = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert set(config["scaleAndConcurrency"]) == {"maximumInstanceCount", "instanceMemoryMB"}


def test_a_cost_capped_deployment_can_cap_instances_low_and_instances_fit_a_bulk():
    from tests.infra.bicep_tree import parse as parse_template

    for template in ("main.bicep", "modules/functionapp.bicep"):
        maximum = parse_template(template)["parameters"]["maximumInstanceCount"]
        bounds = {d["type"]: d["argument"] for d in maximum["decorators"] if d["type"] in ("min_value", "max_value")}
        assert bounds == {"min_value": 1, "max_value": 1000}, template
    memory = parse_template("modules/functionapp.bicep")["parameters"]["instanceMemoryMB"]
    # `make bench` measures the peak under a 10,000-file bulk at about 760 MiB: 512 MB does not fit.
    assert memory["default"] == 2048
    assert 512 in next(d["argument"] for d in memory["decorators"] if d["type"] == "allowed")
