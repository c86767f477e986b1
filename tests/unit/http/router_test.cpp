// The API's routing without a socket: which handler answers, what a path parameter holds, and
// what a request no route takes gets back.
#include "keel/http/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

namespace keel::http {
namespace {

HttpResponse answer(const Router& router, std::string method, std::string path) {
    boost::asio::io_context io;
    HttpResponse out;
    HttpRequest request{std::move(method), std::move(path), "", "", "", {}};
    boost::asio::co_spawn(io, router.dispatch(std::move(request)),
                          [&](std::exception_ptr e, HttpResponse r) {
                              if (e) std::rethrow_exception(e);
                              out = std::move(r);
                          });
    io.run();
    return out;
}

Router::Handler says(std::string text) {
    return [text](HttpRequest request) -> net::awaitable<HttpResponse> {
        std::string body = text;
        for (const auto& [name, value] : request.params) body += " " + name + "=" + value;
        co_return HttpResponse{200, "text/plain", body};
    };
}

TEST(Router, MatchesMethodAndPathSegments) {
    Router router;
    router.add("GET", "/api/v1/peers", says("list"));
    router.add("POST", "/api/v1/peers/{id}/verify", says("verify"));
    router.add("GET", "/api/v1/peers/{id}", says("one"));
    EXPECT_EQ(answer(router, "GET", "/api/v1/peers").body, "list");
    EXPECT_EQ(answer(router, "GET", "/api/v1/peers/").body, "list");  // empty segments ignored
    EXPECT_EQ(answer(router, "GET", "/api/v1/peers/12D3Koo").body, "one id=12D3Koo");
    EXPECT_EQ(answer(router, "POST", "/api/v1/peers/Qm/verify").body, "verify id=Qm");
    EXPECT_EQ(answer(router, "GET", "/api/v1/peers/Qm/verify/more").status, 404u);
}

TEST(Router, PathParametersArePercentDecoded) {
    Router router;
    router.add("GET", "/k/{key}", says("k"));
    EXPECT_EQ(answer(router, "GET", "/k/a%2Fb%20c").body, "k key=a/b c");
    EXPECT_EQ(answer(router, "GET", "/k/100%").body, "k key=100%");  // not an escape: kept
    EXPECT_EQ(answer(router, "GET", "/k/%zz").body, "k key=%zz");
}

TEST(Router, AKnownPathWithAnotherMethodIs405AndAnUnknownOne404) {
    Router router;
    router.add("POST", "/api/v1/connect", says("connect"));
    auto wrong_method = answer(router, "GET", "/api/v1/connect");
    EXPECT_EQ(wrong_method.status, 405u);
    EXPECT_EQ(nlohmann::json::parse(wrong_method.body)["error"], "method not allowed");
    auto unknown = answer(router, "GET", "/api/v1/nothing");
    EXPECT_EQ(unknown.status, 404u);
    EXPECT_EQ(nlohmann::json::parse(unknown.body)["error"], "not found: /api/v1/nothing");
}

TEST(Router, AThrowingHandlerAnswers500WithoutItsMessage) {
    Router router;
    router.add("GET", "/boom", [](HttpRequest) -> net::awaitable<HttpResponse> {
        throw std::runtime_error("secret internals");
        co_return HttpResponse{};
    });
    auto r = answer(router, "GET", "/boom");
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(JsonError, ReplacesBytesThatAreNotUtf8) {
    auto r = json_error(400, std::string("bad \xff\xfe input"));
    EXPECT_EQ(r.status, 400u);
    auto parsed = nlohmann::json::parse(r.body);  // valid JSON, whatever the message held
    EXPECT_NE(parsed["error"].get<std::string>().find("input"), std::string::npos);
}

}  // namespace
}  // namespace keel::http
