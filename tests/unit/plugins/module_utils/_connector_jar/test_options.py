"""The module's options: argument rules and which options hold URL secrets."""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cdcops.flink_cdc.plugins.module_utils._connector_jar import options
from ansible_collections.cdcops.flink_cdc.tests.unit.plugins.test_support.connector_jars import PGA


def test_argument_spec_rules():
    spec, rules = options.argument_spec(internal=False), options.argument_rules(internal=False)
    good = ArgumentSpecValidator(spec, **rules).validate(
        dict(dest="/lib", jars=[dict(group_id="org.apache.flink", artifact_id=PGA, version="3.1.0")]))
    assert good.error_messages == [] and good.validated_parameters["jars"][0]["state"] is None
    for bad in (dict(dest="/lib", jars=[], artifact_id=PGA), dict(dest="/lib", jars=[], checksum="sha1:x"),
                dict(dest="/lib", jars=[dict(group_id="g")]), dict(dest="/lib", jars=[dict(url="u", src="s")]),
                dict(dest="/lib"), dict(dest="/lib", jars=[], _pushed={})):
        assert ArgumentSpecValidator(spec, **rules).validate(bad).error_messages, bad
    assert "_pushed" in options.argument_spec() and "_pushed" in options.argument_rules()["required_one_of"][0]


def test_option_url_secrets_covers_every_option_that_takes_a_url():
    params = {"repository_url": "http://a:one@r/", "url": "http://b:two@r/x.jar",
              "jars": [{"url": "http://c:three@r/y.jar"}, {"artifact_id": "z"}, "junk"]}
    assert options.option_url_secrets(params) == {"one", "two", "three"}
    assert options.option_url_secrets({"repository_url": "http://r/", "jars": None}) == set()
