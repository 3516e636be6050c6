"""Configuration: host.json, local.settings.json, TimeSpans and the resolved Settings (table-driven, real files)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from overcast.config.host_json import DEFAULT_FUNCTION_TIMEOUT, load_host_json
from overcast.config.local_settings import apply_to_environment, load_local_settings
from overcast.config.settings import StartOptions, load
from overcast.config.timespan import parse_timespan
from overcast.errors import ConfigError


@pytest.fixture(autouse=True)
def an_app_folder(tmp_path: Path) -> None:
    """load() needs a host.json, as `func start` does; tests about host.json overwrite or remove it."""
    write_host_json(tmp_path, {"version": "2.0"})


def write_host_json(root: Path, content: Any) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (root / "host.json").write_text(text, encoding="utf-8")


def write_local_settings(root: Path, content: Any) -> None:
    text = content if isinstance(content, str) else json.dumps(content)
    (root / "local.settings.json").write_text(text, encoding="utf-8")


def v2(**sections: Any) -> dict[str, Any]:
    return {"version": "2.0", **sections}


# --------------------------------------------------------------------------------------------------------------------
# TimeSpan


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:05:00", 300.0),
        ("1.00:00:00", 86400.0),
        ("00:00:01", 1.0),
        ("23:59:59", 86399.0),
        ("1:2", 3720.0),  # hh:mm
        ("01:02:03.5", 3723.5),
        ("00:00:00.0000001", 1e-7),
        (" 00:00:10 ", 10.0),
        ("-00:00:01", -1.0),
        ("1", 86400.0),  # a bare integer is days, as TimeSpan.Parse reads it
        ("-1", -86400.0),
        ("2.03:04:05", 2 * 86400 + 3 * 3600 + 4 * 60 + 5.0),
    ],
)
def test_parse_timespan(text: str, seconds: float) -> None:
    assert parse_timespan(text, what="the setting") == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("five minutes", "is not a TimeSpan"),
        ("", "is not a TimeSpan"),
        ("1.5", "is not a TimeSpan"),
        ("00:00:00:00", "is not a TimeSpan"),
        ("00:05:00.12345678", "is not a TimeSpan"),  # at most 7 fraction digits
        ("24:00:00", "out of range"),
        ("00:60:00", "out of range"),
        ("00:00:60", "out of range"),
    ],
)
def test_parse_timespan_errors_name_the_setting(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_timespan(text, what="host.json someSetting")
    assert "host.json someSetting" in str(err.value)
    assert fragment in str(err.value)


# --------------------------------------------------------------------------------------------------------------------
# host.json: file-level validation


def test_host_json_missing_gives_defaults(tmp_path: Path) -> None:
    (tmp_path / "host.json").unlink()
    host = load_host_json(tmp_path, {})
    assert host.exists is False
    assert host.http.route_prefix == "api"
    assert host.http.max_concurrent_requests == -1
    assert host.http.max_outstanding_requests == -1
    assert host.http.custom_headers == ()
    assert host.http.hsts_header is None
    assert host.function_timeout == DEFAULT_FUNCTION_TIMEOUT == 1800.0
    assert host.functions is None
    assert dict(host.log_levels) == {}


def test_host_json_empty_object_is_accepted(tmp_path: Path) -> None:
    write_host_json(tmp_path, "{}")
    host = load_host_json(tmp_path, {})
    assert host.exists is True
    assert host.http.route_prefix == "api"
    assert host.function_timeout == DEFAULT_FUNCTION_TIMEOUT


@pytest.mark.parametrize("text", ["", "   \n", "\ufeff"])
def test_host_json_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    # JObject.Parse("") throws ("Error reading JObject from JsonReader"), so the host cannot start either.
    write_host_json(tmp_path, text)
    with pytest.raises(ConfigError, match=r"Unable to parse host configuration file .*empty"):
        load_host_json(tmp_path, {})


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('{"version": "2.0",', ["Unable to parse host configuration file", "host.json", "line 1"]),
        ('{"version": "2.0"}\n}', ["Unable to parse host configuration file", "line 2"]),
        ("not json", ["Unable to parse host configuration file"]),
        ('["version", "2.0"]', ["must be a JSON object"]),
        ('"2.0"', ["must be a JSON object"]),
        ('{"logging": {}}', ["missing the required 'version' property", '"version": "2.0"']),
        ('{"Version": "2.0"}', ["missing the required 'version' property"]),  # the property name is exact
        ('{"version": "3.0"}', ["'3.0' is an invalid value", "'version'", "Version 3.0 does not exist", '"2.0"']),
        ('{"version": "1.0"}', ["'1.0' is an invalid value", "'version'", '"version": "2.0"']),
        ('{"version": 2}', ["'2' is an invalid value"]),
    ],
)
def test_host_json_invalid(tmp_path: Path, text: str, fragments: list[str]) -> None:
    write_host_json(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_host_json(tmp_path, {})
    for fragment in fragments:
        assert fragment in str(err.value)


def test_host_json_version_1_has_no_3_0_hint(tmp_path: Path) -> None:
    write_host_json(tmp_path, {"version": "1.0"})
    with pytest.raises(ConfigError) as err:
        load_host_json(tmp_path, {})
    assert "3.0" not in str(err.value)


# --------------------------------------------------------------------------------------------------------------------
# host.json: extensions.http


@pytest.mark.parametrize(
    ("http", "prefix"),
    [
        ({}, "api"),
        ({"routePrefix": ""}, ""),
        ({"routePrefix": "/api/"}, "api"),
        ({"routePrefix": "v1/public"}, "v1/public"),
        ({"routePrefix": "/"}, ""),
        ({"ROUTEPREFIX": "Upper"}, "Upper"),  # keys are case-insensitive, values keep their case
    ],
)
def test_route_prefix(tmp_path: Path, http: dict[str, Any], prefix: str) -> None:
    write_host_json(tmp_path, v2(extensions={"http": http}))
    assert load_host_json(tmp_path, {}).http.route_prefix == prefix


@pytest.mark.parametrize(
    ("http", "concurrent", "outstanding"),
    [
        ({"maxConcurrentRequests": 10}, 10, -1),
        ({"maxConcurrentRequests": "7", "maxOutstandingRequests": 200}, 7, 200),
        ({"MaxConcurrentRequests": -1, "MAXOUTSTANDINGREQUESTS": " 5 "}, -1, 5),
    ],
)
def test_request_limits(tmp_path: Path, http: dict[str, Any], concurrent: int, outstanding: int) -> None:
    write_host_json(tmp_path, v2(extensions={"http": http}))
    options = load_host_json(tmp_path, {}).http
    assert (options.max_concurrent_requests, options.max_outstanding_requests) == (concurrent, outstanding)


@pytest.mark.parametrize(
    ("http", "fragment"),
    [
        ({"maxConcurrentRequests": "ten"}, "maxConcurrentRequests must be an integer"),
        ({"maxOutstandingRequests": 1.5}, "maxOutstandingRequests must be an integer"),
        ({"routePrefix": 5}, "routePrefix must be a string"),
        ({"customHeaders": ["X-A"]}, "customHeaders must be an object"),
    ],
)
def test_http_section_errors(tmp_path: Path, http: dict[str, Any], fragment: str) -> None:
    write_host_json(tmp_path, v2(extensions={"http": http}))
    with pytest.raises(ConfigError, match=fragment):
        load_host_json(tmp_path, {})


def test_http_section_must_be_an_object(tmp_path: Path) -> None:
    write_host_json(tmp_path, v2(extensions={"http": "on"}))
    with pytest.raises(ConfigError, match=r"extensions\.http must be an object"):
        load_host_json(tmp_path, {})


def test_custom_headers_keep_their_case(tmp_path: Path) -> None:
    headers = {"X-Content-Type-Options": "nosniff", "x-lower": "v", "X-MiXeD": "Value With Case"}
    write_host_json(tmp_path, v2(Extensions={"Http": {"CustomHeaders": headers}}))
    assert load_host_json(tmp_path, {}).http.custom_headers == tuple(headers.items())


@pytest.mark.parametrize(
    ("hsts", "header"),
    [
        (None, None),
        ({"isEnabled": False, "maxAge": "1.00:00:00"}, None),
        ({"isEnabled": True}, "max-age=2592000"),  # 30 days by default
        ({"isEnabled": "true", "maxAge": "1.00:00:00"}, "max-age=86400"),
        ({"isEnabled": True, "maxAge": "00:10:00", "includeSubDomains": True}, "max-age=600; includeSubDomains"),
        ({"isEnabled": True, "maxAge": "365.00:00:00", "includeSubDomains": True, "preload": True},
         "max-age=31536000; includeSubDomains; preload"),
        ({"IsEnabled": True, "MaxAge": "00:00:01.9", "Preload": "True"}, "max-age=1; preload"),
    ],
)
def test_hsts_header(tmp_path: Path, hsts: dict[str, Any] | None, header: str | None) -> None:
    http: dict[str, Any] = {} if hsts is None else {"hsts": hsts}
    write_host_json(tmp_path, v2(extensions={"http": http}))
    assert load_host_json(tmp_path, {}).http.hsts_header == header


def test_hsts_bad_max_age_names_the_setting(tmp_path: Path) -> None:
    write_host_json(tmp_path, v2(extensions={"http": {"hsts": {"isEnabled": True, "maxAge": "a year"}}}))
    with pytest.raises(ConfigError, match=r"extensions\.http\.hsts\.maxAge"):
        load_host_json(tmp_path, {})


# --------------------------------------------------------------------------------------------------------------------
# host.json: functionTimeout


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:05:00", 300.0),
        ("1.00:00:00", 86400.0),
        ("00:00:01", 1.0),
        ("-1", None),  # no timeout
        ("-00:00:01", None),
        ("10:00:00", 36000.0),
    ],
)
def test_function_timeout(tmp_path: Path, value: str, seconds: float | None) -> None:
    write_host_json(tmp_path, v2(functionTimeout=value))
    assert load_host_json(tmp_path, {}).function_timeout == seconds


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("00:00:00.5", "must be greater than 00:00:01"),
        ("00:00:00", "must be greater than 00:00:01"),
        ("five minutes", "is not a TimeSpan"),
        ("00:99:00", "out of range"),
    ],
)
def test_function_timeout_errors(tmp_path: Path, value: str, fragment: str) -> None:
    write_host_json(tmp_path, v2(functionTimeout=value))
    with pytest.raises(ConfigError) as err:
        load_host_json(tmp_path, {})
    assert fragment in str(err.value)
    assert "functionTimeout" in str(err.value) or "FunctionTimeout" in str(err.value)


def test_function_timeout_key_is_case_insensitive(tmp_path: Path) -> None:
    write_host_json(tmp_path, v2(FUNCTIONTIMEOUT="00:00:42"))
    assert load_host_json(tmp_path, {}).function_timeout == 42.0


# --------------------------------------------------------------------------------------------------------------------
# host.json: AzureFunctionsJobHost__ overrides, functions allow-list, logging


@pytest.mark.parametrize(
    ("file_http", "environ", "prefix"),
    [
        ({}, {"AzureFunctionsJobHost__extensions__http__routePrefix": "v2"}, "v2"),
        ({"routePrefix": "api"}, {"AzureFunctionsJobHost__extensions__http__routePrefix": ""}, ""),
        ({"routePrefix": "file"}, {"azurefunctionsjobhost__EXTENSIONS__HTTP__ROUTEPREFIX": "/env/"}, "env"),
        ({"routePrefix": "file"}, {"AzureFunctionsJobHost_extensions_http_routePrefix": "ignored"}, "file"),
        ({"routePrefix": "file"}, {"OtherPrefix__extensions__http__routePrefix": "ignored"}, "file"),
    ],
)
def test_route_prefix_override(tmp_path: Path, file_http: dict[str, Any], environ: dict[str, str],
                               prefix: str) -> None:
    write_host_json(tmp_path, v2(extensions={"http": file_http}))
    assert load_host_json(tmp_path, environ).http.route_prefix == prefix


def test_override_without_host_json(tmp_path: Path) -> None:
    env = {"AzureFunctionsJobHost__extensions__http__maxConcurrentRequests": "3",
           "AzureFunctionsJobHost__functionTimeout": "00:01:00"}
    (tmp_path / "host.json").unlink()
    host = load_host_json(tmp_path, env)
    assert host.exists is False
    assert host.http.max_concurrent_requests == 3
    assert host.function_timeout == 60.0


@pytest.mark.parametrize(
    ("file_functions", "environ", "expected"),
    [
        (None, {}, None),
        (["a", "b"], {}, ("a", "b")),
        ([], {}, None),
        (None, {"AzureFunctionsJobHost__functions__0": "hello", "AzureFunctionsJobHost__functions__1": "echo"},
         ("hello", "echo")),
        # indices order the list, not the environment's order
        (None, {"AzureFunctionsJobHost__functions__1": "second", "AzureFunctionsJobHost__functions__0": "first"},
         ("first", "second")),
        (["a", "b", "c"], {"AzureFunctionsJobHost__functions__0": "z"}, ("z", "b", "c")),
        (None, {"AZUREFUNCTIONSJOBHOST__FUNCTIONS__0": "Upper"}, ("Upper",)),
    ],
)
def test_functions_allow_list(tmp_path: Path, file_functions: list[str] | None, environ: dict[str, str],
                              expected: tuple[str, ...] | None) -> None:
    write_host_json(tmp_path, v2() if file_functions is None else v2(functions=file_functions))
    assert load_host_json(tmp_path, environ).functions == expected


def test_keys_are_case_insensitive(tmp_path: Path) -> None:
    write_host_json(tmp_path, {
        "version": "2.0",
        "EXTENSIONS": {"hTTp": {"RoutePrefix": "x", "maxconcurrentrequests": 4}},
        "Logging": {"LogLevel": {"Default": "Warning"}},
    })
    host = load_host_json(tmp_path, {})
    assert host.http.route_prefix == "x"
    assert host.http.max_concurrent_requests == 4
    assert host.section("Extensions", "HTTP")["routeprefix"] == "x"
    assert host.section("extensions", "missing") == {}
    assert dict(host.log_levels) == {"default": "Warning"}


@pytest.mark.parametrize(
    ("logging_section", "environ", "levels"),
    [
        (None, {}, {}),
        ({"logLevel": {"default": "Warning"}}, {}, {"default": "Warning"}),
        ({"logLevel": {"Default": "Information", "Function.hello": "Debug", "Host.Results": "Error"}}, {},
         {"default": "Information", "function.hello": "Debug", "host.results": "Error"}),
        ({"logLevel": {"default": "Warning"}}, {"AzureFunctionsJobHost__logging__logLevel__Function": "None"},
         {"default": "Warning", "function": "None"}),
        ({"logLevel": {"default": "Warning"}}, {"AzureFunctionsJobHost__logging__logLevel__default": "Trace"},
         {"default": "Trace"}),
        ({"fileLoggingMode": "always"}, {}, {}),
    ],
)
def test_log_levels(tmp_path: Path, logging_section: dict[str, Any] | None, environ: dict[str, str],
                    levels: dict[str, str]) -> None:
    write_host_json(tmp_path, v2() if logging_section is None else v2(logging=logging_section))
    assert dict(load_host_json(tmp_path, environ).log_levels) == levels


# --------------------------------------------------------------------------------------------------------------------
# local.settings.json


def test_local_settings_missing(tmp_path: Path) -> None:
    local = load_local_settings(tmp_path)
    assert local.exists is False
    assert local.values == {}
    assert local.connection_strings == {}
    assert (local.local_http_port, local.local_http_address, local.cors, local.cors_credentials) == (
        None, None, None, None
    )


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (True, "True"),
        (False, "False"),
        (0, "0"),
        (42, "42"),
        (-7, "-7"),
        (1.5, "1.5"),
        ("true", "true"),
        ("UseDevelopmentStorage=true", "UseDevelopmentStorage=true"),
        ("é ☃", "é ☃"),
    ],
)
def test_values_become_strings(tmp_path: Path, raw: Any, text: str) -> None:
    write_local_settings(tmp_path, {"IsEncrypted": False, "Values": {"SETTING": raw}})
    local = load_local_settings(tmp_path)
    assert local.values == {"SETTING": text}
    env: dict[str, str] = {}
    apply_to_environment(local, env)
    assert env == {"SETTING": text}


def test_the_store_overcast_start_moved_aside_is_skipped_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_local_settings(tmp_path, {"Values": {"AzureWebJobsStorage": "postgresql://db/app"}})
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "OVERCAST_APP_STORE": "postgresql://db/app"}
    apply_to_environment(load_local_settings(tmp_path), env)
    assert env["AzureWebJobsStorage"] == "UseDevelopmentStorage=true" and not caplog.records
    env["OVERCAST_APP_STORE"] = "postgresql://elsewhere/app"  # not the value it moved: a real conflict is said
    apply_to_environment(load_local_settings(tmp_path), env)
    assert "Skipping 'AzureWebJobsStorage'" in caplog.text


def test_null_value_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_local_settings(tmp_path, {"Values": {"GONE": None, "KEPT": "x"}})
    with caplog.at_level(logging.WARNING, logger="overcast.host.startup"):
        local = load_local_settings(tmp_path)
    assert local.values == {"KEPT": "x"}
    assert any("GONE" in r.getMessage() and "null" in r.getMessage() for r in caplog.records)


def test_empty_name_is_skipped(tmp_path: Path) -> None:
    write_local_settings(tmp_path, {"Values": {"": "x", "A": "1"}})
    assert load_local_settings(tmp_path).values == {"A": "1"}


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ({"Values": {"Nested": {"a": 1}}}, ["Values.Nested", "dict", "must be strings"]),
        ({"Values": {"ListValue": [1, 2]}}, ["Values.ListValue", "list"]),
        ({"IsEncrypted": True, "Values": {"A": "x"}}, ['"IsEncrypted": true', "not supported"]),
        ({"Values": ["A"]}, ["'Values' must be an object"]),
        ({"Host": "7071"}, ["'Host' must be an object"]),
        ({"Host": {"LocalHttpPort": "http"}}, ["Host.LocalHttpPort must be a port number", "'http'"]),
        ({"ConnectionStrings": ["x"]}, ["'ConnectionStrings' must be an object"]),
        ({"ConnectionStrings": {"Db": 5}}, ["ConnectionStrings.Db must be a string"]),
        ({"ConnectionStrings": {"Db": {"ProviderName": "x"}}}, ["ConnectionStrings.Db must be a string"]),
        ("[1, 2]", ["must contain one JSON object"]),
        ('{"Values": {"A": "x"', ["Unable to parse", "line 1"]),
    ],
)
def test_local_settings_errors(tmp_path: Path, content: Any, fragments: list[str]) -> None:
    write_local_settings(tmp_path, content)
    with pytest.raises(ConfigError) as err:
        load_local_settings(tmp_path)
    assert "local.settings.json" in str(err.value)
    for fragment in fragments:
        assert fragment in str(err.value)


@pytest.mark.parametrize("encrypted", [False, "true", 1, None])
def test_is_encrypted_only_when_json_true(tmp_path: Path, encrypted: Any) -> None:
    write_local_settings(tmp_path, {"IsEncrypted": encrypted, "Values": {"A": "x"}})
    assert load_local_settings(tmp_path).values == {"A": "x"}


def test_empty_local_settings_file(tmp_path: Path) -> None:
    write_local_settings(tmp_path, "")
    local = load_local_settings(tmp_path)
    assert local.exists is True
    assert local.values == {}


def test_values_never_override_the_real_environment(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_local_settings(tmp_path, {"Values": {"SAME": "v", "DIFFERENT": "from-file", "NEW": "n"}})
    env = {"SAME": "v", "DIFFERENT": "from-env", "UNRELATED": "u"}
    with caplog.at_level(logging.WARNING, logger="overcast.host.startup"):
        apply_to_environment(load_local_settings(tmp_path), env)
    assert env == {"SAME": "v", "DIFFERENT": "from-env", "UNRELATED": "u", "NEW": "n"}
    warned = [r.getMessage() for r in caplog.records]
    assert any("DIFFERENT" in m and "already defined" in m for m in warned)
    assert not any("'SAME'" in m for m in warned)  # an identical value is not worth a warning


def test_connection_strings(tmp_path: Path) -> None:
    write_local_settings(tmp_path, {
        "Values": {"A": "1"},
        "ConnectionStrings": {"Db": "Server=x", "Other": {"ConnectionString": "Server=y", "ProviderName": "p"}},
    })
    local = load_local_settings(tmp_path)
    assert local.connection_strings == {"Db": "Server=x", "Other": "Server=y"}
    env = {"ConnectionStrings:Other": "real"}
    apply_to_environment(local, env)
    assert env == {"A": "1", "ConnectionStrings:Db": "Server=x", "ConnectionStrings:Other": "real"}


@pytest.mark.parametrize(
    ("host", "port", "address", "cors", "credentials"),
    [
        ({}, None, None, None, None),
        ({"LocalHttpPort": 7999}, 7999, None, None, None),
        ({"localhttpport": "8001"}, 8001, None, None, None),
        ({"LocalHttpAddress": "0.0.0.0"}, None, "0.0.0.0", None, None),
        ({"CORS": "http://a.test,http://b.test", "CORSCredentials": True}, None, None, "http://a.test,http://b.test",
         True),
        ({"CORS": "*", "CORSCredentials": False}, None, None, "*", False),
        ({"CORSCredentials": "true"}, None, None, None, True),
        ({"LocalHttpAddress": "", "CORS": ""}, None, None, None, None),
    ],
)
def test_local_settings_host_section(tmp_path: Path, host: dict[str, Any], port: int | None, address: str | None,
                                     cors: str | None, credentials: bool | None) -> None:
    write_local_settings(tmp_path, {"Values": {}, "Host": host})
    local = load_local_settings(tmp_path)
    assert (local.local_http_port, local.local_http_address, local.cors, local.cors_credentials) == (
        port, address, cors, credentials
    )


# --------------------------------------------------------------------------------------------------------------------
# Settings: the resolved configuration


def test_settings_defaults(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    settings = load(StartOptions(script_root=tmp_path), environ=env)
    assert settings.script_root == tmp_path.resolve()
    assert settings.data_dir == (tmp_path / ".overcast").resolve()
    assert settings.port == 7071
    assert settings.address == "127.0.0.1"
    assert settings.is_loopback
    assert settings.cors_origins == ()
    assert settings.cors_credentials is False
    assert settings.function_allow_list is None
    assert settings.workers == 1
    assert settings.thread_count is None
    assert settings.script_file == "function_app.py"
    assert settings.body_limit == 104_857_600
    assert settings.user_log_level == "Information"
    assert settings.auth_enabled is True
    assert settings.worker_extensions is False
    assert env == {}


def test_settings_apply_values_to_the_given_environ(tmp_path: Path) -> None:
    write_local_settings(tmp_path, {"Values": {"FROM_FILE": "file", "BOTH": "file"}})
    env = {"BOTH": "env"}
    load(StartOptions(script_root=tmp_path), environ=env)
    assert env == {"FROM_FILE": "file", "BOTH": "env"}


def test_script_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        load(StartOptions(script_root=tmp_path / "nope"), environ={})


@pytest.mark.parametrize(
    ("host", "options", "port", "address", "origins", "credentials"),
    [
        ({"LocalHttpPort": 8123, "LocalHttpAddress": "0.0.0.0", "CORS": "http://a.test, http://b.test",
          "CORSCredentials": True}, {}, 8123, "0.0.0.0", ("http://a.test", "http://b.test"), True),
        # CLI options win over local.settings.json Host
        ({"LocalHttpPort": 8123, "LocalHttpAddress": "0.0.0.0", "CORS": "http://a.test"},
         {"port": 9000, "address": "127.0.0.2", "cors": "http://cli.test"}, 9000, "127.0.0.2", ("http://cli.test",),
         False),
        ({"CORS": "*"}, {}, 7071, "127.0.0.1", ("*",), False),
        ({}, {"cors": "http://x.test", "cors_credentials": True}, 7071, "127.0.0.1", ("http://x.test",), True),
        ({"CORSCredentials": False}, {"cors_credentials": True}, 7071, "127.0.0.1", (), True),
        ({"LocalHttpPort": 0}, {}, 7071, "127.0.0.1", (), False),  # 0 is "not given"
        ({"LocalHttpPort": 8123}, {"port": 0}, 0, "127.0.0.1", (), False),  # --port 0: a free port, chosen at bind
    ],
)
def test_host_section_flows_into_settings(
    tmp_path: Path, host: dict[str, Any], options: dict[str, Any], port: int, address: str,
    origins: tuple[str, ...], credentials: bool,
) -> None:
    write_local_settings(tmp_path, {"Values": {}, "Host": host})
    settings = load(StartOptions(script_root=tmp_path, **options), environ={})
    assert (settings.port, settings.address, settings.cors_origins, settings.cors_credentials) == (
        port, address, origins, credentials
    )


@pytest.mark.parametrize(
    ("host", "options", "environ"),
    [
        ({"CORS": "*", "CORSCredentials": True}, {}, {}),
        ({"CORS": "http://a.test, *"}, {"cors_credentials": True}, {}),
        ({}, {"cors": "*", "cors_credentials": True}, {}),
        ({"CORS": "*"}, {}, {"CORS_SUPPORT_CREDENTIALS": "true"}),
        ({}, {}, {"CORS_ALLOWED_ORIGINS": '["*"]', "CORS_SUPPORT_CREDENTIALS": "1"}),
    ],
)
def test_wildcard_origin_with_credentials_is_an_error(
    tmp_path: Path, host: dict[str, Any], options: dict[str, Any], environ: dict[str, str]
) -> None:
    write_local_settings(tmp_path, {"Values": {}, "Host": host})
    with pytest.raises(ConfigError, match=r"'\*' cannot be combined"):
        load(StartOptions(script_root=tmp_path, **options), environ=dict(environ))


@pytest.mark.parametrize(
    ("environ", "origins"),
    [
        ({"CORS_ALLOWED_ORIGINS": '["http://a.test", "http://b.test"]'}, ("http://a.test", "http://b.test")),
        ({"CORS_ALLOWED_ORIGINS": ""}, ()),
    ],
)
def test_cors_from_environment(tmp_path: Path, environ: dict[str, str], origins: tuple[str, ...]) -> None:
    assert load(StartOptions(script_root=tmp_path), environ=dict(environ)).cors_origins == origins


def test_cors_from_environment_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CORS_ALLOWED_ORIGINS must be a JSON array"):
        load(StartOptions(script_root=tmp_path), environ={"CORS_ALLOWED_ORIGINS": "http://a.test"})


@pytest.mark.parametrize("port", [70000, -1, True])
def test_a_local_port_out_of_range_is_refused_even_with_port_given(tmp_path: Path, port: object) -> None:
    write_local_settings(tmp_path, {"Host": {"LocalHttpPort": port}})
    for given in (None, 0, 8080):
        with pytest.raises(ConfigError, match=r"Host.LocalHttpPort must be a port number \(0-65535\)"):
            load(StartOptions(script_root=tmp_path, port=given), environ={})


def test_a_cli_port_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        load(StartOptions(script_root=tmp_path, port=70000), environ={})


@pytest.mark.parametrize(
    ("values", "options", "workers"),
    [
        ({}, {}, 1),
        ({"FUNCTIONS_WORKER_PROCESS_COUNT": "3"}, {}, 3),
        ({"FUNCTIONS_WORKER_PROCESS_COUNT": 4}, {}, 4),  # a JSON number in Values
        ({"FUNCTIONS_WORKER_PROCESS_COUNT": ""}, {}, 1),
        ({"FUNCTIONS_WORKER_PROCESS_COUNT": "3"}, {"workers": 2}, 2),
    ],
)
def test_worker_process_count(tmp_path: Path, values: dict[str, Any], options: dict[str, Any], workers: int) -> None:
    write_local_settings(tmp_path, {"Values": values})
    assert load(StartOptions(script_root=tmp_path, **options), environ={}).workers == workers


@pytest.mark.parametrize(("value", "fragment"), [("0", "at least 1"), ("two", "whole number"), ("-3", "at least 1")])
def test_worker_process_count_errors(tmp_path: Path, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(StartOptions(script_root=tmp_path), environ={"FUNCTIONS_WORKER_PROCESS_COUNT": value})
    assert "FUNCTIONS_WORKER_PROCESS_COUNT" in str(err.value)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("value", "count", "warned"),
    [
        (None, None, False),
        ("", None, False),
        ("8", 8, False),
        (" 2 ", 2, False),
        ("many", None, True),
        ("0", None, True),
        ("-1", None, True),
        ("1.5", None, True),
    ],
)
def test_thread_pool_count(tmp_path: Path, value: str | None, count: int | None, warned: bool) -> None:
    env = {} if value is None else {"PYTHON_THREADPOOL_THREAD_COUNT": value}
    settings = load(StartOptions(script_root=tmp_path), environ=env)
    assert settings.thread_count == count
    # Collected, not logged: the CLI prints them once, though every instance resolves the settings again.
    warnings = [w for w in settings.warnings if "PYTHON_THREADPOOL_THREAD_COUNT" in w]
    assert len(warnings) == (1 if warned else 0)


@pytest.mark.parametrize("name", ["function_app.py", "app.py", "my-app.py", "_private.py", "App2.py"])
def test_script_file_name_accepted(tmp_path: Path, name: str) -> None:
    settings = load(StartOptions(script_root=tmp_path), environ={"PYTHON_SCRIPT_FILE_NAME": name})
    assert settings.script_file == name


@pytest.mark.parametrize(
    "name",
    [
        "../function_app.py", "sub/app.py", "app.txt", "app", "-app.py", "app .py", ".py", "", "app.pyc",
        "app.py\n",
    ],
)
def test_script_file_name_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(StartOptions(script_root=tmp_path), environ={"PYTHON_SCRIPT_FILE_NAME": name})
    assert "PYTHON_SCRIPT_FILE_NAME" in str(err.value)


def test_script_file_name_from_local_settings(tmp_path: Path) -> None:
    write_local_settings(tmp_path, {"Values": {"PYTHON_SCRIPT_FILE_NAME": "../evil.py"}})
    with pytest.raises(ConfigError, match="Invalid file name"):
        load(StartOptions(script_root=tmp_path), environ={})


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        (None, {}, ".overcast"),
        (None, {"OVERCAST_DATA_DIR": "{tmp}/from-env"}, "from-env"),
        (None, {"OVERCAST_DATA_DIR": ""}, ".overcast"),
        ("{tmp}/from-cli", {"OVERCAST_DATA_DIR": "{tmp}/from-env"}, "from-cli"),
    ],
)
def test_data_dir(tmp_path: Path, option: str | None, environ: dict[str, str], expected: str) -> None:
    root = tmp_path / "app"
    root.mkdir()
    write_host_json(root, {"version": "2.0"})
    env = {k: v.format(tmp=tmp_path) for k, v in environ.items()}
    data_dir = Path(option.format(tmp=tmp_path)) if option else None
    settings = load(StartOptions(script_root=root, data_dir=data_dir), environ=env)
    base = root if expected == ".overcast" else tmp_path
    assert settings.data_dir == (base / expected).resolve()


def test_data_dir_from_local_settings_values(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    write_host_json(root, {"version": "2.0"})
    write_local_settings(root, {"Values": {"OVERCAST_DATA_DIR": str(tmp_path / "from-values")}})
    assert load(StartOptions(script_root=root), environ={}).data_dir == (tmp_path / "from-values").resolve()


def test_cli_functions_become_the_allow_list(tmp_path: Path) -> None:
    write_host_json(tmp_path, v2(functions=["fromfile"]))
    env: dict[str, str] = {}
    settings = load(StartOptions(script_root=tmp_path, functions=("a", "b")), environ=env)
    assert settings.function_allow_list == ("a", "b")
    assert settings.host_json.functions == ("a", "b")
    assert env == {"AzureFunctionsJobHost__functions__0": "a", "AzureFunctionsJobHost__functions__1": "b"}


def test_allow_list_from_environment_override(tmp_path: Path) -> None:
    env = {"AzureFunctionsJobHost__functions__0": "hello", "azurefunctionsjobhost__FUNCTIONS__1": "echo"}
    assert load(StartOptions(script_root=tmp_path), environ=env).function_allow_list == ("hello", "echo")


def test_route_prefix_override_from_local_settings_values(tmp_path: Path) -> None:
    write_host_json(tmp_path, v2(extensions={"http": {"routePrefix": "file"}}))
    write_local_settings(tmp_path, {"Values": {"AzureFunctionsJobHost__extensions__http__routePrefix": "values"}})
    assert load(StartOptions(script_root=tmp_path), environ={}).host_json.http.route_prefix == "values"


@pytest.mark.parametrize(
    ("option", "environ", "level"),
    [
        (None, {}, "Information"),
        ("debug", {}, "Debug"),
        (None, {"FUNCTIONS_USER_LOG_LEVEL": "warn"}, "Warning"),
        ("info", {"FUNCTIONS_USER_LOG_LEVEL": "Error"}, "Information"),
        (None, {"FUNCTIONS_USER_LOG_LEVEL": "NONE"}, "None"),
    ],
)
def test_user_log_level(tmp_path: Path, option: str | None, environ: dict[str, str], level: str) -> None:
    settings = load(StartOptions(script_root=tmp_path, user_log_level=option), environ=dict(environ))
    assert settings.user_log_level == level


def test_user_log_level_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a log level"):
        load(StartOptions(script_root=tmp_path, user_log_level="loud"), environ={})


@pytest.mark.parametrize(("value", "limit"), [(None, 104_857_600), ("1024", 1024), ("", 104_857_600)])
def test_body_limit(tmp_path: Path, value: str | None, limit: int) -> None:
    env = {} if value is None else {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": value}
    assert load(StartOptions(script_root=tmp_path), environ=env).body_limit == limit
