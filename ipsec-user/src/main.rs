fn main() -> anyhow::Result<()> {
    ipsecgw::cli::main()
}
