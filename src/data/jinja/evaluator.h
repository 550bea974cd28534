// Runs a parsed template: statements write to the output, expressions compute Values, with
// jinja2's scoping (a for loop's body and a macro's body are scopes of their own; set writes
// to the innermost scope, so namespace() is how a loop passes state out) and limits against
// runaway templates (call depth, work done, output size).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/jinja/ast.h"

namespace zili::data::jinja {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  Scope* parent = nullptr;
};

class Evaluator {
 public:
  // globals: the context's variables and the global functions; the evaluator's root scope.
  Evaluator(const std::string& name, Scope& globals) : name_(name), root_(globals) {}

  // Renders body into the output; zili::Error "<name>:<line>: <what>" for a runtime error.
  void run(const Body& body);
  std::string& output() { return out_; }
  std::vector<std::pair<size_t, size_t>>& generation_spans() { return spans_; }

  Value eval(const Expr& e, Scope& scope);
  // Counts work done; RuntimeError past the limit (a template that never ends).
  void step();

 private:
  enum class Flow { Normal, Break, Continue };

  const std::string& name_;
  Scope& root_;
  std::string out_;
  std::vector<std::pair<size_t, size_t>> spans_;
  int capture_depth_ = 0;  // inside a macro call or block set: spans are not recorded
  int call_depth_ = 0;
  size_t steps_ = 0;

  Flow exec_body(const Body& body, Scope& scope);
  Flow exec(const Stmt& s, Scope& scope);
  Flow exec_for(const Stmt& s, Scope& scope);
  void exec_set(const Stmt& s, Scope& scope);
  void write(const std::string& text);
  // Runs body with the output captured and returns what it wrote.
  std::string capture(const Body& body, Scope& scope);
  Value make_macro(const Stmt& s);

  // Expressions (expressions.cpp).
  Value lookup(const std::string& name, Scope& scope) const;
  Value eval_binary(const Expr& e, Scope& scope);
  Value eval_compare(const Expr& e, Scope& scope);
  Value eval_call(const Expr& e, Scope& scope);
  CallArgs eval_args(const Expr& e, size_t first, Scope& scope);
};

// The output limit: a template that writes more is stopped (RuntimeError).
constexpr size_t kMaxOutputBytes = size_t{256} << 20;

// Assigns value to targets: one name, or several unpacked from a sequence of that length.
void assign(Scope& scope, const std::vector<std::string>& targets, const Value& value);
// Looks up a name from scope outward; nullptr when no scope has it.
const Value* find_var(const Scope& scope, const std::string& name);

}  // namespace zili::data::jinja
