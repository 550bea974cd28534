// The Jinja lexer's whitespace rules as transformers configures jinja2: trim_blocks (the
// newline after a block or comment tag goes), lstrip_blocks (indentation before a block or
// comment tag goes, not before {{ }}), - strips all whitespace on its side, + keeps it, one
// trailing newline of the template goes, \r\n becomes \n, raw blocks stay as written.
// Expected strings worked out by hand from jinja2's lexer rules.
#include <catch2/catch.hpp>

#include "jinja_fixtures.h"

using zili::test::render;

TEST_CASE("trim_blocks drops the newline after a block tag, not after an output tag") {
  CHECK(render("{% if true %}\nA\n{% endif %}\nB") == "A\nB");
  CHECK(render("{{ 'x' }}\nB") == "x\nB");
  CHECK(render("{# note #}\nB") == "B");
  // Only one newline goes.
  CHECK(render("{% if true %}\n\nA{% endif %}") == "\nA");
}

TEST_CASE("lstrip_blocks drops indentation before block and comment tags only") {
  CHECK(render("  {% if true %}\n    X\n  {% endif %}\nY") == "    X\nY");
  CHECK(render("  {{ 'v' }}") == "  v");
  CHECK(render("a  {% if true %}b{% endif %}") == "a  b");  // not at the start of a line
  CHECK(render("x\n   {# c #}\ny") == "x\ny");
}

TEST_CASE("minus strips all whitespace on its side, plus keeps it") {
  CHECK(render("a  \n {{- 'b' -}} \n\t c") == "abc");
  CHECK(render("a\n  {%- if true -%}\n  b\n{%- endif %}") == "ab");
  CHECK(render("a  {#- c -#}  b") == "ab");
  CHECK(render("  {%+ if true %}c{% endif %}") == "  c");
  CHECK(render("{% if true +%}\nc{% endif %}") == "\nc");
}

TEST_CASE("the template's newlines are normalized and one trailing newline goes") {
  CHECK(render("a\r\nb\rc\n") == "a\nb\nc");
  CHECK(render("a\n\n") == "a\n");
}

TEST_CASE("raw blocks keep tags as text") {
  CHECK(render("{% raw %}{{ x }}{% if %}{% endraw %}") == "{{ x }}{% if %}");
  CHECK(render("{%- raw -%}  a {{ y }}  {%- endraw %}") == "a {{ y }}");
}

TEST_CASE("string literals resolve Python's escapes") {
  CHECK(render(R"({{ "a\nb\t\\ \u00e9 \x41 \'" }})") == "a\nb\t\\ \xc3\xa9 A '");
  CHECK(render("{{ 'a' \"b\" }}") == "ab");  // adjacent strings join
}

TEST_CASE("a dict literal's closing braces do not end an output tag") {
  CHECK(render("{{ {'a': {'b': 1}} }}") == "{'a': {'b': 1}}");
}
