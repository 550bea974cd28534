// The Jinja statements one by one: if/elif/else, for (loop variables, filter, else,
// break/continue, unpacking), set (block set, tuples, namespace attributes, loop scoping),
// macro (defaults, keywords, recursion), with and the generation block. Expected strings
// worked out by hand from jinja2's semantics.
#include <catch2/catch.hpp>

#include "jinja_fixtures.h"

using nlohmann::ordered_json;
using zili::test::render;

namespace {
const ordered_json kMessages = {{"messages",
                                 {{{"role", "system"}, {"content", "S"}},
                                  {{"role", "user"}, {"content", "U"}},
                                  {{"role", "assistant"}, {"content", "A"}}}}};
}

TEST_CASE("if, elif and else pick the first true branch") {
  const std::string t = "{% if x %}A{% elif y %}B{% else %}C{% endif %}";
  CHECK(render(t, {{"x", 1}, {"y", 1}}) == "A");
  CHECK(render(t, {{"x", 0}, {"y", "s"}}) == "B");
  CHECK(render(t, {{"x", ""}, {"y", ordered_json::array()}}) == "C");
  CHECK(render(t) == "C");  // undefined is false
}

TEST_CASE("for loops see the loop variable") {
  CHECK(render("{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
               "{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
               kMessages) == "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;");
  CHECK(render("{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else "
               "'-' }}/{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}",
               kMessages) == "-/user system/assistant user/- ");
  CHECK(render("{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}") == "abab");
}

TEST_CASE("for with a filter counts only the items that pass; else runs when none do") {
  CHECK(render("{% for m in messages if m.role != 'system' %}{{ m.content }}{{ loop.length }}"
               "{% endfor %}",
               kMessages) == "U2A2");
  CHECK(render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty");
  CHECK(render("{% for x in none_such %}x{% else %}undefined is empty{% endfor %}") ==
        "undefined is empty");
}

TEST_CASE("for iterates dicts by key, strings by character, and unpacks pairs") {
  const ordered_json d = {{"d", {{"b", 1}, {"a", 2}}}};
  CHECK(render("{% for k in d %}{{ k }}{% endfor %}", d) == "ba");  // insertion order
  CHECK(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", d) == "b=1;a=2;");
  CHECK(render("{% for (a, b) in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}") == "37");
  CHECK(render("{% for c in 'h\xc3\xa9!' %}[{{ c }}]{% endfor %}") == "[h][\xc3\xa9][!]");
}

TEST_CASE("break and continue") {
  CHECK(render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}"
               "{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}") == "0134");
}

TEST_CASE("set inside a loop stays in the loop; a namespace carries state out") {
  CHECK(render("{% set x = 0 %}{% for i in range(3) %}{{ x }}{% set x = i %}{{ x }}{% endfor %}"
               "{{ x }}") == "0001020");
  CHECK(render("{% set ns = namespace(n=0, found=false) %}{% for i in range(4) %}"
               "{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}"
               "{% endfor %}{{ ns.n }} {{ ns.found }}") == "6 True");
}

TEST_CASE("set: tuples and block set") {
  CHECK(render("{% set a, b = 1, 'x' %}{{ a }}{{ b }}") == "1x");
  CHECK(render("{% set t = 1, 2 %}{{ t }}") == "(1, 2)");
  CHECK(render("{% set s %}  <{{ 1 + 1 }}>\n{% endset %}[{{ s }}]") == "[  <2>\n]");
}

TEST_CASE("macros: defaults, keywords, output as a string, recursion") {
  const std::string m = "{% macro f(a, b='x', c=none) %}<{{ a }}|{{ b }}|{{ c }}>{% endmacro %}";
  CHECK(render(m + "{{ f(1) }}{{ f(1, 2) }}{{ f(1, c=3) }}") == "<1|x|None><1|2|None><1|x|3>");
  CHECK(render(m + "{{ f('q')|upper }}") == "<Q|X|NONE>");
  CHECK(render("{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}"
               "{{ r(3) }}") == "321");
}

TEST_CASE("with opens a scope of its own") {
  CHECK(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]") == "3[]");
}

TEST_CASE("generation blocks record the byte spans of what they write") {
  const auto t = zili::data::jinja::Template::parse(
      "A{% generation %}\xc3\xa9{{ 'x' }}{% endgeneration %}B{% generation %}CD{% endgeneration %}",
      "t");
  const auto r = t.render(ordered_json::object());
  CHECK(r.text == "A\xc3\xa9xBCD");
  REQUIRE(r.generation_spans.size() == 2);
  CHECK(r.generation_spans[0] == std::pair<size_t, size_t>{1, 4});
  CHECK(r.generation_spans[1] == std::pair<size_t, size_t>{5, 7});
}
