// The parsed template: expressions and statements, each with the line it starts on.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/jinja/value.h"

namespace zili::data::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,  // value
    Name,     // name
    List,     // args: the items
    Tuple,    // args: the items
    Dict,     // args: key, value, key, value, ...
    Attr,     // args[0].name
    Item,     // args[0][args[1]]
    Slice,    // args[0][args[1]:args[2]:args[3]] (null where left out)
    Call,     // args[0](args[1..], kwargs)
    Filter,   // args[0] | name(args[1..], kwargs)
    Test,     // args[0] is [not] name(args[1..], kwargs)
    Unary,    // name ("not", "-", "+") args[0]
    Binary,   // args[0] name args[1]: + - * / // % ** ~ and or
    Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in "not in"
    Cond,     // args[0] if args[1] else args[2] (args[2] null: undefined)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  bool negated = false;  // Test: "is not"
  std::vector<ExprPtr> args;
  std::vector<std::string> ops;  // Compare
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    Text,      // text
    Output,    // {{ expr }}
    If,        // branches: (condition, body)...; else_body
    For,       // targets in expr [if filter] body [else else_body]
    Set,       // targets (or target.attribute) = expr
    SetBlock,  // {% set targets %} body {% endset %}
    Macro,     // name(params) body
    Break,
    Continue,
    Generation,  // {% generation %} body {% endgeneration %}
    With,        // {% with targets = exprs %} body (set statements in params order)
  };
  Kind kind;
  int line = 0;
  std::string text;                  // Text; Macro: its name
  ExprPtr expr;                      // Output, For (the iterable), Set (the value)
  ExprPtr filter;                    // For: the "if" condition
  std::vector<std::string> targets;  // For, Set, SetBlock: names (several: unpacking)
  std::string attribute;             // Set: ns.attribute = ...
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro (default or null); With
};

}  // namespace zili::data::jinja
