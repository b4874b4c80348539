// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title USDCToken (devnet)
/// @notice A USDC-like ERC-20 for sluice's local dev chain: 6 decimals, and,
/// unlike the USDT-like TetherToken, a standard ERC-20 whose transfer,
/// transferFrom and approve RETURN bool (true; a failure reverts), as Circle's
/// mainnet USDC does. approve may change any allowance to any value. No
/// proxy, no blacklist, no pause, no minter roles: the deployer is the owner
/// and the only one who may mint.
contract USDCToken {
    string public constant name = "USD Coin (devnet)";
    string public constant symbol = "USDC";
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
    function mint(address to, uint256 value) external returns (bool) {
        require(msg.sender == owner, "USDCToken: caller is not the owner");
        require(to != address(0), "USDCToken: mint to the zero address");
        totalSupply += value; // checked: reverts on overflow
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
        return true;
    }

    /// @notice Moves value tokens from the caller to to. Returns true.
    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @notice Moves value tokens from from to to using the caller's
    /// allowance (an allowance of 2**256-1 is never decreased). Returns true.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "USDCToken: insufficient allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    /// @notice Sets the caller's allowance for spender. Returns true.
    function approve(address spender, uint256 value) external returns (bool) {
        require(spender != address(0), "USDCToken: approve to the zero address");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "USDCToken: transfer to the zero address");
        uint256 bal = balanceOf[from];
        require(bal >= value, "USDCToken: transfer amount exceeds balance");
        balanceOf[from] = bal - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
