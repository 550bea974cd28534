// Template errors: one zili::Error line naming the template and the line, for syntax errors,
// unsupported constructs, raise_exception, undefined values used where jinja2 refuses them,
// and runaway templates.
#include <catch2/catch.hpp>

#include "jinja_fixtures.h"

using zili::test::render_error;

TEST_CASE("syntax errors name the line") {
  CHECK(render_error("a\nb\n{% if %}") ==
        "t.jinja:3: expected an expression, got end of statement block");
  CHECK(render_error("{{ 1 + }}") == "t.jinja:1: unexpected end of print statement");
  CHECK(render_error("x\n{% for x in y %}") ==
        "t.jinja:2: unexpected end of template: a block was not closed (expected 'else' or "
        "'endfor')");
  CHECK(render_error("{{ 'abc }}") == "t.jinja:1: unterminated string");
  CHECK(render_error("\n{# open") == "t.jinja:2: missing end of comment tag '#}'");
  CHECK(render_error("{{ x") == "t.jinja:1: missing end of '}}'");
  CHECK(render_error("{% endif %}") == "t.jinja:1: unknown tag 'endif'");
}

TEST_CASE("unsupported constructs are named") {
  CHECK(render_error("\n{% call foo() %}{% endcall %}") ==
        "t.jinja:2: the 'call' block is not supported");
  CHECK(render_error("{% include 'x.jinja' %}") ==
        "t.jinja:1: the 'include' block is not supported");
  CHECK(render_error("{% extends 'x' %}") == "t.jinja:1: the 'extends' block is not supported");
  CHECK(render_error("{% filter upper %}x{% endfilter %}") ==
        "t.jinja:1: the 'filter' block is not supported");
  CHECK(render_error("\n\n{{ x|nosuchfilter }}") == "t.jinja:3: no filter named 'nosuchfilter'");
  CHECK(render_error("{{ x is nosuchtest }}") == "t.jinja:1: no test named 'nosuchtest'");
  CHECK(render_error("{{ 'a'.nosuchmethod() }}") ==
        "t.jinja:1: 'str object' has no attribute 'nosuchmethod'");
  CHECK(render_error("{% for x in y recursive %}{% endfor %}") ==
        "t.jinja:1: recursive for loops are not supported");
}

TEST_CASE("raise_exception becomes one error line with its message") {
  CHECK(render_error("{% if true %}\n{{ raise_exception('Roles must alternate') }}{% endif %}") ==
        "t.jinja: the template raised: Roles must alternate");
}

TEST_CASE("undefined values: printing is empty, using them is an error") {
  CHECK(render_error("{{ x }}{{ x|length }}{% for i in x %}{% endfor %}") == "");
  CHECK(render_error("{{ x.y }}") == "t.jinja:1: 'x' is undefined");
  CHECK(render_error("{{ d.a.b }}", {{"d", nlohmann::ordered_json::object()}}) ==
        "t.jinja:1: 'dict object' has no attribute 'a'");
  CHECK(render_error("\n{{ x + 1 }}") == "t.jinja:2: 'x' is undefined");
  CHECK(render_error("{{ f() }}") == "t.jinja:1: 'f' is undefined");
  CHECK(render_error("{{ x|tojson }}") ==
        "t.jinja:1: tojson: Object of type Undefined is not JSON serializable");
}

TEST_CASE("type errors as Python words them") {
  CHECK(render_error("{{ 1 + 'a' }}") ==
        "t.jinja:1: unsupported operand type(s) for +: 'int' and 'str'");
  CHECK(render_error("{{ 'a' < 1 }}") ==
        "t.jinja:1: '<' not supported between instances of 'str' and 'int'");
  CHECK(render_error("{% for x in 5 %}{% endfor %}") == "t.jinja:1: 'int' object is not iterable");
  CHECK(render_error("{{ 1 // 0 }}") == "t.jinja:1: division by zero");
  CHECK(render_error("{{ [1].append(2) }}") ==
        "t.jinja:1: access to attribute 'append' of 'list' object is unsafe (templates cannot "
        "change lists)");
}

TEST_CASE("runaway templates stop with a clear error") {
  CHECK(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}") ==
        "t.jinja:1: macro calls nested more than 64 deep");
  CHECK(render_error("{{ range(1000000)|length }}") ==
        "t.jinja:1: range() of more than 100000 items");
  CHECK(render_error("{{ 'x' * 1000000000000 }}") ==
        "t.jinja:1: a repeated string or list would be too long");
  CHECK(render_error("{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}")
            .find("nested more than") != std::string::npos);
  CHECK(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                     "{% endfor %}")
            .find("steps; is a loop endless?") != std::string::npos);
}
