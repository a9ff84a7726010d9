# Builds the hotline binary and runs it on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin hotline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hotline /usr/local/bin/hotline
ENV HOTLINE_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["hotline"]
CMD ["serve"]
