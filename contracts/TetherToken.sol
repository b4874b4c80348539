// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title TetherToken (devnet)
/// @notice A USDT-like ERC-20 for sluice's local dev chain. Like Tether's
/// mainnet contract it has 6 decimals and its transfer, transferFrom and
/// approve RETURN NOTHING, which breaks clients that insist on a bool.
/// Also like mainnet USDT, approve refuses to change a non-zero allowance to
/// another non-zero value (set it to 0 first). No fees, no blacklist, no pause.
contract TetherToken {
    string public constant name = "Tether USD (devnet)";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;

    address public owner;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Creates value tokens for to; only the owner (the deployer) may.
    /// Emits Transfer(0x0, to, value) as ERC-20 mints conventionally do.
    function mint(address to, uint256 value) external {
        require(msg.sender == owner, "TetherToken: caller is not the owner");
        require(to != address(0), "TetherToken: mint to the zero address");
        totalSupply += value; // checked: reverts on overflow
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    /// @notice Moves value tokens from the caller to to. Returns nothing.
    function transfer(address to, uint256 value) external {
        _transfer(msg.sender, to, value);
    }

    /// @notice Moves value tokens from from to to using the caller's
    /// allowance (an allowance of 2**256-1 is never decreased). Returns nothing.
    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "TetherToken: insufficient allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
    }

    /// @notice Sets the caller's allowance for spender. Returns nothing.
    /// As on mainnet USDT, a non-zero allowance must be set to 0 first.
    function approve(address spender, uint256 value) external {
        require(
            value == 0 || allowance[msg.sender][spender] == 0,
            "TetherToken: set the allowance to 0 first"
        );
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "TetherToken: transfer to the zero address");
        uint256 bal = balanceOf[from];
        require(bal >= value, "TetherToken: transfer amount exceeds balance");
        balanceOf[from] = bal - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
