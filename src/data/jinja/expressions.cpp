// Expressions: names, literals, attribute/item/slice access, calls, filters, tests, and the
// operators with Python's semantics (// and % floor, / always a float, + on strings and
// lists, ~ joins str() of both sides, and/or return an operand).
#include <cmath>

#include <fmt/format.h>

#include "data/jinja/evaluator.h"
#include "data/jinja/filters.h"
#include "data/jinja/methods.h"
#include "data/jinja/tests.h"

namespace zili::data::jinja {
namespace {

// jinja2's Undefined refuses arithmetic, comparison and calls with its own message.
void refuse_undefined(const Value& v) {
  if (v.is_undefined()) runtime_fail(v.text);
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  runtime_fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(),
                           b.type_name()));
}

bool both_ints(const Value& a, const Value& b) {
  return a.is_number() && b.is_number() && a.kind != Value::Kind::Float &&
         b.kind != Value::Kind::Float;
}
int64_t as_int(const Value& v) {
  return v.kind == Value::Kind::Int ? v.integer : v.boolean;
}

Value repeat(const Value& seq, int64_t times) {
  const size_t unit = seq.is_string() ? seq.text.size() : seq.list->size();
  if (times > 0 && unit > 0 && static_cast<size_t>(times) > kMaxOutputBytes / unit)
    runtime_fail("a repeated string or list would be too long");
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.text;
    return Value::from(std::move(out));
  }
  List out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.list->begin(), seq.list->end());
  return Value::from(std::move(out), seq.is_tuple);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  refuse_undefined(a);
  refuse_undefined(b);
  int64_t r = 0;
  if (op == "+") {
    if (both_ints(a, b)) {
      if (__builtin_add_overflow(as_int(a), as_int(b), &r)) runtime_fail("integer overflow in +");
      return Value::from(r);
    }
    if (a.is_number() && b.is_number()) return Value::from(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      // Markup + str escapes the str (and str + Markup), giving Markup: what |safe does.
      if (!a.is_markup && !b.is_markup) return Value::from(a.text + b.text);
      Value out = Value::from((a.is_markup ? a.text : html_escape(a.text)) +
                              (b.is_markup ? b.text : html_escape(b.text)));
      out.is_markup = true;
      return out;
    }
    if (a.is_list() && b.is_list() && a.is_tuple == b.is_tuple) {
      if (a.list->size() + b.list->size() > kMaxOutputBytes) runtime_fail("a list is too long");
      List out = *a.list;
      out.insert(out.end(), b.list->begin(), b.list->end());
      return Value::from(std::move(out), a.is_tuple);
    }
    unsupported(op, a, b);
  }
  if (op == "*") {
    if (both_ints(a, b)) {
      if (__builtin_mul_overflow(as_int(a), as_int(b), &r)) runtime_fail("integer overflow in *");
      return Value::from(r);
    }
    if (a.is_number() && b.is_number()) return Value::from(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_list()) && both_ints(b, b)) return repeat(a, as_int(b));
    if ((b.is_string() || b.is_list()) && both_ints(a, a)) return repeat(b, as_int(a));
    unsupported(op, a, b);
  }
  if (op == "%" && a.is_string())
    return Value::from(percent_format(a.text, b.is_list() && b.is_tuple ? *b.list : List{b}));
  if (!a.is_number() || !b.is_number()) unsupported(op, a, b);
  if (op == "-") {
    if (both_ints(a, b)) {
      if (__builtin_sub_overflow(as_int(a), as_int(b), &r)) runtime_fail("integer overflow in -");
      return Value::from(r);
    }
    return Value::from(a.as_double() - b.as_double());
  }
  if (op == "**") {
    if (both_ints(a, b) && as_int(b) >= 0) {
      int64_t result = 1;
      for (int64_t i = 0; i < as_int(b) && result != 0 && !(result == 1 && as_int(a) == 1); ++i)
        if (__builtin_mul_overflow(result, as_int(a), &result))
          runtime_fail("integer overflow in **");
      return Value::from(result);
    }
    return Value::from(std::pow(a.as_double(), b.as_double()));
  }
  if (b.as_double() == 0) runtime_fail("division by zero");
  if (op == "/") return Value::from(a.as_double() / b.as_double());
  if (both_ints(a, b)) {
    const int64_t x = as_int(a), y = as_int(b);
    if (x == INT64_MIN && y == -1) runtime_fail("integer overflow");
    if (op == "//") return Value::from(x / y - ((x % y != 0) && ((x < 0) != (y < 0)) ? 1 : 0));
    const int64_t m = x % y;
    return Value::from(m != 0 && ((m < 0) != (y < 0)) ? m + y : m);
  }
  const double x = a.as_double(), y = b.as_double();
  if (op == "//") return Value::from(std::floor(x / y));
  double m = std::fmod(x, y);
  if (m != 0 && ((m < 0) != (y < 0))) m += y;
  return Value::from(m == 0 ? std::copysign(0.0, y) : m);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind) {
    case Value::Kind::String:
      if (!item.is_string())
        runtime_fail(
            fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
      return container.text.find(item.text) != std::string::npos;
    case Value::Kind::Dict:
      return container.dict->find(item) != nullptr;
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::List:
      for (const Value& v : *container.list)
        if (equal(v, item)) return true;
      return false;
    default:
      runtime_fail(fmt::format("argument of type '{}' is not iterable", container.type_name()));
  }
}

}  // namespace

Value Evaluator::lookup(const std::string& name, Scope& scope) const {
  const Value* v = find_var(scope, name);
  return v ? *v : Value::undefined(fmt::format("'{}' is undefined", name));
}

Value Evaluator::eval(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case Expr::Kind::Literal:
      return e.value;
    case Expr::Kind::Name:
      return lookup(e.name, scope);
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      List items;
      for (const auto& item : e.args) items.push_back(eval(*item, scope));
      return Value::from(std::move(items), e.kind == Expr::Kind::Tuple);
    }
    case Expr::Kind::Dict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2)
        d.set(eval(*e.args[i], scope), eval(*e.args[i + 1], scope));
      return Value::from(std::move(d));
    }
    case Expr::Kind::Attr:
      return get_attr(eval(*e.args[0], scope), e.name);
    case Expr::Kind::Item:
      return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
    case Expr::Kind::Slice: {
      const Value obj = eval(*e.args[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i)
        parts[i] = e.args[i + 1] ? eval(*e.args[i + 1], scope) : Value::none();
      return get_slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::Call:
      return eval_call(e, scope);
    case Expr::Kind::Filter: {
      step();
      const Value input = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return apply_filter(e.name, input, args);
    }
    case Expr::Kind::Test: {
      const Value subject = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, 1, scope);
      return Value::from(apply_test(e.name, subject, args) != e.negated);
    }
    case Expr::Kind::Unary: {
      const Value v = eval(*e.args[0], scope);
      if (e.name == "not") return Value::from(!truthy(v));
      refuse_undefined(v);
      if (!v.is_number())
        runtime_fail(fmt::format("bad operand type for unary {}: '{}'", e.name, v.type_name()));
      if (e.name == "+") return v.kind == Value::Kind::Bool ? Value::from(as_int(v)) : v;
      if (v.kind == Value::Kind::Float) return Value::from(-v.number);
      if (as_int(v) == INT64_MIN) runtime_fail("integer overflow in unary -");
      return Value::from(-as_int(v));
    }
    case Expr::Kind::Binary:
      return eval_binary(e, scope);
    case Expr::Kind::Compare:
      return eval_compare(e, scope);
    case Expr::Kind::Cond:
      if (truthy(eval(*e.args[1], scope))) return eval(*e.args[0], scope);
      return e.args[2] ? eval(*e.args[2], scope)
                       : Value::undefined("the inline if has no else and its test was false");
  }
  return Value::none();
}

Value Evaluator::eval_binary(const Expr& e, Scope& scope) {
  const Value a = eval(*e.args[0], scope);
  if (e.name == "and") return truthy(a) ? eval(*e.args[1], scope) : a;
  if (e.name == "or") return truthy(a) ? a : eval(*e.args[1], scope);
  const Value b = eval(*e.args[1], scope);
  if (e.name == "~") {
    std::string joined = to_str(a) + to_str(b);
    if (joined.size() > kMaxOutputBytes) runtime_fail("a string is too long");
    return Value::from(std::move(joined));
  }
  return arithmetic(e.name, a, b);
}

Value Evaluator::eval_compare(const Expr& e, Scope& scope) {
  Value left = eval(*e.args[0], scope);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.args[i + 1], scope);
    const std::string& op = e.ops[i];
    bool result;
    if (op == "==") {
      result = equal(left, right);
    } else if (op == "!=") {
      result = !equal(left, right);
    } else if (op == "in" || op == "not in") {
      result = contains(right, left) == (op == "in");
    } else {
      refuse_undefined(left);
      refuse_undefined(right);
      result = op == "<"    ? less(left, right)
               : op == ">"  ? less(right, left)
               : op == "<=" ? !less(right, left)
                            : !less(left, right);
    }
    if (!result) return Value::from(false);
    left = std::move(right);
  }
  return Value::from(true);
}

CallArgs Evaluator::eval_args(const Expr& e, size_t first, Scope& scope) {
  CallArgs args;
  for (size_t i = first; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i], scope));
  for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value, scope));
  return args;
}

Value Evaluator::eval_call(const Expr& e, Scope& scope) {
  step();
  const Value callee = eval(*e.args[0], scope);
  refuse_undefined(callee);
  if (callee.kind != Value::Kind::Function)
    runtime_fail(fmt::format("'{}' object is not callable", callee.type_name()));
  CallArgs args = eval_args(e, 1, scope);
  return (*callee.function)(args);
}

}  // namespace zili::data::jinja
