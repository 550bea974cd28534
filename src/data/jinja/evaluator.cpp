// The statements of a template: text, output, if, for (loop variable, filter, else,
// break/continue), set, block set, macro, with and transformers' generation block.
#include "data/jinja/evaluator.h"

#include <fmt/format.h>

#include "util/error.h"

namespace zili::data::jinja {
namespace {

constexpr size_t kMaxSteps = 5'000'000;  // statements run and loop iterations, all together
constexpr int kMaxCallDepth = 64;        // nested macro calls

}  // namespace

const Value* find_var(const Scope& scope, const std::string& name) {
  for (const Scope* s = &scope; s; s = s->parent) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

void assign(Scope& scope, const std::vector<std::string>& targets, const Value& value) {
  if (targets.size() == 1) {
    scope.vars[targets[0]] = value;
    return;
  }
  const List items = iterate(value);
  if (items.size() != targets.size())
    runtime_fail(
        fmt::format("cannot unpack {} values into {} names", items.size(), targets.size()));
  for (size_t i = 0; i < targets.size(); ++i) scope.vars[targets[i]] = items[i];
}

void Evaluator::step() {
  if (++steps_ > kMaxSteps)
    runtime_fail(fmt::format("the template ran more than {} steps; is a loop endless?", kMaxSteps));
}

void Evaluator::run(const Body& body) {
  const Flow flow = exec_body(body, root_);
  (void)flow;  // break/continue outside a loop are refused where they run
}

void Evaluator::write(const std::string& text) {
  if (out_.size() + text.size() > kMaxOutputBytes)
    runtime_fail(fmt::format("the template wrote more than {} MiB", kMaxOutputBytes >> 20));
  out_ += text;
}

Evaluator::Flow Evaluator::exec_body(const Body& body, Scope& scope) {
  for (const auto& stmt : body) {
    const Flow flow = exec(*stmt, scope);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

std::string Evaluator::capture(const Body& body, Scope& scope) {
  std::string saved = std::move(out_);
  out_.clear();
  ++capture_depth_;
  try {
    exec_body(body, scope);
  } catch (...) {
    --capture_depth_;
    out_ = std::move(saved);
    throw;
  }
  --capture_depth_;
  std::string captured = std::move(out_);
  out_ = std::move(saved);
  return captured;
}

Evaluator::Flow Evaluator::exec(const Stmt& s, Scope& scope) {
  try {
    step();
    switch (s.kind) {
      case Stmt::Kind::Text:
        write(s.text);
        return Flow::Normal;
      case Stmt::Kind::Output:
        write(to_str(eval(*s.expr, scope)));
        return Flow::Normal;
      case Stmt::Kind::If:
        for (const auto& [condition, body] : s.branches)
          if (truthy(eval(*condition, scope))) return exec_body(body, scope);
        return exec_body(s.else_body, scope);
      case Stmt::Kind::For:
        return exec_for(s, scope);
      case Stmt::Kind::Set:
        exec_set(s, scope);
        return Flow::Normal;
      case Stmt::Kind::SetBlock:
        scope.vars[s.targets[0]] = Value::from(capture(s.body, scope));
        return Flow::Normal;
      case Stmt::Kind::Macro:
        scope.vars[s.text] = make_macro(s);
        return Flow::Normal;
      case Stmt::Kind::Break:
        return Flow::Break;
      case Stmt::Kind::Continue:
        return Flow::Continue;
      case Stmt::Kind::Generation: {
        const size_t begin = out_.size();
        const Flow flow = exec_body(s.body, scope);
        if (capture_depth_ == 0) spans_.emplace_back(begin, out_.size());
        return flow;
      }
      case Stmt::Kind::With: {
        Scope inner{{}, &scope};
        for (const auto& [target, value] : s.params) inner.vars[target] = eval(*value, scope);
        return exec_body(s.body, inner);
      }
    }
  } catch (const RuntimeError& e) {
    fail("{}:{}: {}", name_, s.line, e.what);
  }
  return Flow::Normal;
}

static bool holds_namespace(const Value& v, int depth) {
  if (v.kind == Value::Kind::Namespace) return true;
  if (depth > kMaxDepth) return false;
  if (v.is_list())
    for (const Value& item : *v.list)
      if (holds_namespace(item, depth + 1)) return true;
  if (v.is_dict())
    for (const auto& [key, item] : v.dict->items)
      if (holds_namespace(item, depth + 1)) return true;
  return false;
}

void Evaluator::exec_set(const Stmt& s, Scope& scope) {
  const Value value = eval(*s.expr, scope);
  if (s.attribute.empty()) {
    assign(scope, s.targets, value);
    return;
  }
  const Value* target = find_var(scope, s.targets[0]);
  if (!target || target->kind != Value::Kind::Namespace)
    runtime_fail(fmt::format("cannot assign attribute '{}' on '{}': it is not a namespace()",
                             s.attribute, s.targets[0]));
  if (!s.attribute.empty() && s.attribute[0] == '_')
    runtime_fail(fmt::format("namespace attributes cannot start with '_' ('{}')", s.attribute));
  // A namespace inside a namespace could make a cycle that is never freed; templates do not
  // need one.
  if (holds_namespace(value, 0))
    runtime_fail(fmt::format("cannot store a namespace in namespace attribute '{}'", s.attribute));
  target->dict->set(Value::from(s.attribute), value);
}

// loop.index (from 1), index0, revindex, revindex0, first, last, length, previtem,
// nextitem (undefined at the ends), depth, depth0, and cycle(a, b, ...). One dict per loop,
// its values updated in place each iteration (a loop runs often; this keeps it cheap).
class LoopObject {
 public:
  explicit LoopObject(const List& items) : items_(items), index_(std::make_shared<size_t>(0)) {
    const char* names[] = {"index",  "index0", "revindex", "revindex0", "first",    "last",
                           "length", "depth",  "depth0",   "previtem",  "nextitem", "cycle"};
    Dict d;
    for (const char* name : names) d.items.emplace_back(Value::from(name), Value::none());
    value_ = Value::from(std::move(d));
    auto index = index_;
    d_(7) = Value::from(int64_t{1});
    d_(8) = Value::from(int64_t{0});
    d_(6) = Value::from(static_cast<int64_t>(items.size()));
    d_(11) = Value::function_of("loop.cycle", [index](CallArgs& args) {
      if (args.positional.empty()) runtime_fail("loop.cycle() needs at least one value");
      return args.positional[*index % args.positional.size()];
    });
  }
  const Value& at(size_t i) {
    *index_ = i;
    const auto n = static_cast<int64_t>(items_.size());
    const auto k = static_cast<int64_t>(i);
    d_(0) = Value::from(k + 1);
    d_(1) = Value::from(k);
    d_(2) = Value::from(n - k);
    d_(3) = Value::from(n - k - 1);
    d_(4) = Value::from(k == 0);
    d_(5) = Value::from(k == n - 1);
    d_(9) = i > 0 ? items_[i - 1] : Value::undefined("there is no previous item");
    d_(10) = i + 1 < items_.size() ? items_[i + 1] : Value::undefined("there is no next item");
    return value_;
  }

 private:
  Value& d_(size_t slot) { return value_.dict->items[slot].second; }
  const List& items_;
  std::shared_ptr<size_t> index_;
  Value value_;
};

Evaluator::Flow Evaluator::exec_for(const Stmt& s, Scope& scope) {
  const Value sequence = eval(*s.expr, scope);
  List items;
  if (sequence.kind == Value::Kind::Dict) {
    items = iterate(sequence);
  } else if (sequence.is_undefined() || sequence.is_list() || sequence.is_string()) {
    items = iterate(sequence);
  } else {
    runtime_fail(fmt::format("'{}' object is not iterable", sequence.type_name()));
  }
  if (s.filter) {  // for x in y if cond: the loop sees only the items that pass
    List kept;
    for (const Value& item : items) {
      step();
      Scope probe{{}, &scope};
      assign(probe, s.targets, item);
      if (truthy(eval(*s.filter, probe))) kept.push_back(item);
    }
    items = std::move(kept);
  }
  LoopObject loop(items);
  for (size_t i = 0; i < items.size(); ++i) {
    step();
    Scope inner{{}, &scope};
    inner.vars["loop"] = loop.at(i);
    assign(inner, s.targets, items[i]);
    if (exec_body(s.body, inner) == Flow::Break) break;
  }
  if (items.empty()) {
    Scope inner{{}, &scope};
    exec_body(s.else_body, inner);
  }
  return Flow::Normal;
}

// A macro is a function: its parameters bound from the call's arguments (or their defaults,
// evaluated at call time), its body rendered in a scope of its own over the globals, and
// what it wrote returned as a string.
Value Evaluator::make_macro(const Stmt& s) {
  const Stmt* macro = &s;
  return Value::function_of(s.text, [this, macro](CallArgs& args) {
    if (args.positional.size() > macro->params.size())
      runtime_fail(fmt::format("macro '{}' takes not more than {} argument(s)", macro->text,
                               macro->params.size()));
    if (++call_depth_ > kMaxCallDepth) {
      --call_depth_;
      runtime_fail(fmt::format("macro calls nested more than {} deep", kMaxCallDepth));
    }
    Scope frame{{}, &root_};
    std::string result;
    try {
      for (size_t i = 0; i < macro->params.size(); ++i) {
        const auto& [param, fallback] = macro->params[i];
        const Value* given = find_arg(args, i, param.c_str());
        frame.vars[param] = given      ? *given
                            : fallback ? eval(*fallback, frame)
                                       : Value::undefined(fmt::format("'{}' is undefined", param));
      }
      for (const auto& [key, value] : args.keyword) {
        bool known = false;
        for (const auto& param : macro->params) known = known || param.first == key;
        if (!known) runtime_fail(fmt::format("macro '{}' has no argument '{}'", macro->text, key));
      }
      result = capture(macro->body, frame);
    } catch (...) {
      --call_depth_;
      throw;
    }
    --call_depth_;
    return Value::from(std::move(result));
  });
}

}  // namespace zili::data::jinja
