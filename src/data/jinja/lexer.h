// Splits a Jinja template into tokens as jinja2's lexer does with the settings transformers
// uses: trim_blocks (the first newline after a block or comment tag is dropped), lstrip_blocks
// (spaces and tabs before a block or comment tag at the start of a line are dropped),
// {%- -%} {{- -}} {#- -#} strip all whitespace on that side, "+" turns the trimming off,
// {% raw %} text is kept as written, and one trailing newline of the template is dropped.
#pragma once

#include <string>
#include <vector>

namespace zili::data::jinja {

struct Token {
  enum class Kind {
    Text,        // template text to print as is
    VarBegin,    // {{
    VarEnd,      // }}
    BlockBegin,  // {%
    BlockEnd,    // %}
    Name,
    String,  // value: the string with its escapes resolved
    Int,
    Float,
    Operator,  // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
    End,
  };
  Kind kind;
  std::string value;
  int line;
};

// zili::Error "<name>:<line>: <what>" for an unclosed tag, comment, string or raw block, or
// a character no token starts with.
std::vector<Token> tokenize(const std::string& source, const std::string& name);

}  // namespace zili::data::jinja
